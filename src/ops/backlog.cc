#include "ops/backlog.h"

#include <string>

namespace evbus::ops {

void BacklogBoard::Post(std::vector<PartitionBacklog> partitions) {
  std::lock_guard<std::mutex> lock(mu_);
  partitions_.swap(partitions);
}

std::vector<PartitionBacklog> BacklogBoard::partitions() const {
  std::lock_guard<std::mutex> lock(mu_);
  return partitions_;
}

BacklogDetector::BacklogDetector(const Config& config)
    : max_lag_(config.subscriber.backlog_lag),
      max_publish_in_flight_(config.publisher.backlog_in_flight),
      max_publish_latency_(config.publisher.backlog_latency) {}

std::optional<BacklogState> BacklogDetector::Evaluate(
    std::vector<PartitionBacklog> partitions, int64_t publish_in_flight,
    const core::LatencyHistogram::Snapshot& publish_latency) {
  BacklogState s;
  s.sampled_at = std::chrono::system_clock::now();
  for (const PartitionBacklog& p : partitions) {
    s.total_lag += p.lag;
    if (p.stalled) {
      ++s.stalled_partitions;
      s.subscriber_backlog = true;
      s.detail += p.topic + "[" + std::to_string(p.partition) + "] stalled for " +
                  std::to_string(p.stalled_for.count()) + "ms with " + std::to_string(p.in_flight) +
                  " in flight; ";
    }
    if (p.lag >= max_lag_) {
      s.subscriber_backlog = true;
      s.detail += p.topic + "[" + std::to_string(p.partition) + "] lag " + std::to_string(p.lag) +
                  " >= subscriber.backlog_lag " + std::to_string(max_lag_) + "; ";
    }
  }
  s.partitions = std::move(partitions);

  s.publish_in_flight = publish_in_flight;
  const uint64_t n = publish_latency.count - prev_count_;
  if (n > 0) {
    s.avg_publish_latency =
        std::chrono::microseconds((publish_latency.sum_ns - prev_sum_ns_) / n / 1000);
  }
  prev_count_ = publish_latency.count;
  prev_sum_ns_ = publish_latency.sum_ns;
  if (publish_in_flight >= max_publish_in_flight_) {
    s.publisher_backlog = true;
    s.detail += std::to_string(publish_in_flight) +
                " publishes in flight >= publisher.backlog_in_flight " +
                std::to_string(max_publish_in_flight_) + "; ";
  }
  if (max_publish_latency_.count() > 0 && s.avg_publish_latency >= max_publish_latency_) {
    s.publisher_backlog = true;
    s.detail += "average publish latency " + std::to_string(s.avg_publish_latency.count()) +
                "us >= publisher.backlog_latency; ";
  }
  if (s.detail.size() >= 2) s.detail.resize(s.detail.size() - 2);

  std::lock_guard<std::mutex> lock(mu_);
  const bool changed = s.subscriber_backlog != last_.subscriber_backlog ||
                       s.publisher_backlog != last_.publisher_backlog;
  last_ = s;
  if (!changed) return std::nullopt;
  return s;
}

BacklogState BacklogDetector::last() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_;
}

}  // namespace evbus::ops
