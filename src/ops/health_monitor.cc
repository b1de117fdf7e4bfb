#include "ops/health_monitor.h"

#include "ops/health_message.h"

namespace evbus::ops {

HealthMonitor::HealthMonitor(const HealthCheckConfig& config) : config_(config) {
  stats_.running = true;
  stats_.healthy = true;
}

AlertSeverity HealthMonitor::SeverityFor(int misses, int threshold) {
  if (misses >= threshold) return AlertSeverity::kCritical;
  if (misses >= (threshold + 1) / 2) return AlertSeverity::kError;
  return AlertSeverity::kWarning;
}

Status HealthMonitor::OnRecord(const Record& record) {
  Result<HealthMessage> m = ParseHealthMessage(record.payload);
  std::lock_guard<std::mutex> lock(mu_);
  if (!m.ok()) {
    ++stats_.invalid;
    return Status();
  }
  ++stats_.received;
  stats_.last_source = m->source;
  stats_.last_message = std::chrono::system_clock::now();
  last_type_ = m->event_bus_type;
  last_ = Clock::now();
  return Status();
}

std::optional<HealthAlert> HealthMonitor::Tick(Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  const bool seen = last_ != Clock::time_point{};
  const auto since = now - (seen ? last_ : started_);
  const auto interval = config_.interval;
  // A message is missed once half an interval past its due time, so normal
  // jitter does not count: 1.5 intervals silent = 1 miss, 2.5 = 2, ...
  int misses = 0;
  if (since >= interval + interval / 2) {
    misses = static_cast<int>((since - interval / 2) / interval);
  }
  stats_.consecutive_misses = misses;
  if (misses == reported_misses_) return std::nullopt;
  const bool recovered = misses == 0;
  if (misses < reported_misses_ && !recovered) return std::nullopt;  // recovering: wait for 0
  reported_misses_ = misses;

  HealthAlert a;
  a.topic = config_.topic;
  a.source = stats_.last_source;
  a.event_bus_type = last_type_;
  a.consecutive_misses = misses;
  a.time_since_last_message = std::chrono::duration_cast<std::chrono::milliseconds>(since);
  a.expected_interval = std::chrono::duration_cast<std::chrono::milliseconds>(interval);
  a.timestamp = std::chrono::system_clock::now();
  if (recovered) {
    a.alert_type = "recovered";
    a.severity = AlertSeverity::kInfo;
    a.message = "health messages on " + config_.topic + " arrive again (from " + a.source + ")";
  } else {
    a.alert_type = "no_messages";
    a.severity = SeverityFor(misses, config_.failure_threshold);
    a.message = "no health message on " + config_.topic + " for " +
                std::to_string(a.time_since_last_message.count()) + "ms (" +
                std::to_string(misses) + " interval(s) missed)";
  }
  stats_.severity = a.severity;
  stats_.healthy = recovered;
  return a;
}

HealthMonitorStats HealthMonitor::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

}  // namespace evbus::ops

namespace evbus {

std::string_view ToString(AlertSeverity severity) {
  switch (severity) {
    case AlertSeverity::kInfo:
      return "info";
    case AlertSeverity::kWarning:
      return "warning";
    case AlertSeverity::kError:
      return "error";
    case AlertSeverity::kCritical:
      return "critical";
  }
  return "unknown";
}

}  // namespace evbus
