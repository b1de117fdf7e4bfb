#include "core/middleware_metrics.h"

#include <mutex>

namespace evbus::core {
namespace {

thread_local MiddlewareMetrics* tls_current = nullptr;

void JoinKey(std::string& key, std::string_view topic, std::string_view event_type,
             std::string_view outcome) {
  key.clear();
  key.append(topic).append(1, '\x1f').append(event_type).append(1, '\x1f').append(outcome);
}

}  // namespace

MiddlewareMetrics* MiddlewareMetrics::Current() { return tls_current; }

MiddlewareMetrics::Scope::Scope(MiddlewareMetrics* metrics) : previous_(tls_current) {
  tls_current = metrics;
}

MiddlewareMetrics::Scope::~Scope() { tls_current = previous_; }

template <typename Value>
Value& MiddlewareMetrics::Find(Family<Value>& family, std::string_view topic,
                               std::string_view event_type, std::string_view outcome) {
  thread_local std::string key;  // reused: a lookup allocates nothing once warm
  JoinKey(key, topic, event_type, outcome);
  {
    std::shared_lock<std::shared_mutex> lock(mu_);
    if (auto it = family.find(key); it != family.end()) return it->second->value;
  }
  std::unique_lock<std::shared_mutex> lock(mu_);
  if (family.size() >= kMaxSeries && family.find(key) == family.end()) {
    event_type = kOtherEventType;
    JoinKey(key, topic, event_type, outcome);
  }
  auto& slot = family[key];
  if (!slot) {  // series are never removed, so the reference stays valid
    slot = std::make_unique<Series<Value>>();
    slot->labels = {std::string(topic), std::string(event_type), std::string(outcome)};
  }
  return slot->value;
}

void MiddlewareMetrics::ObserveHandler(std::string_view topic, std::string_view event_type,
                                       std::string_view outcome,
                                       std::chrono::nanoseconds duration) {
  Find(handler_, topic, event_type, outcome).Observe(duration.count());
}

void MiddlewareMetrics::CountFiltered(std::string_view topic, std::string_view event_type) {
  Find(filtered_, topic, event_type, "").fetch_add(1, std::memory_order_relaxed);
}

std::vector<MiddlewareMetrics::HandlerSeries> MiddlewareMetrics::handler_series() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  std::vector<HandlerSeries> out;
  out.reserve(handler_.size());
  for (const auto& [key, s] : handler_) out.push_back({s->labels, s->value.Take()});
  return out;
}

std::vector<MiddlewareMetrics::FilteredSeries> MiddlewareMetrics::filtered_series() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  std::vector<FilteredSeries> out;
  out.reserve(filtered_.size());
  for (const auto& [key, s] : filtered_) {
    out.push_back({s->labels, s->value.load(std::memory_order_relaxed)});
  }
  return out;
}

}  // namespace evbus::core
