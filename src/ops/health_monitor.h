// HealthMonitor: watches the health-check topic. Valid messages reset the
// miss count; Tick() counts intervals without one and returns the alert to
// deliver when the count grows ("no_messages": warning, error from half of
// health_check.failure_threshold, critical at it) or when messages come back
// ("recovered").
//
// Thread safety: OnRecord from worker threads, Tick from the ops thread,
// stats() from any thread.

#ifndef EVBUS_OPS_HEALTH_MONITOR_H_
#define EVBUS_OPS_HEALTH_MONITOR_H_

#include <chrono>
#include <mutex>
#include <optional>

#include "evbus/config.h"
#include "evbus/ops.h"
#include "evbus/record.h"

namespace evbus::ops {

class HealthMonitor {
 public:
  using Clock = std::chrono::steady_clock;

  explicit HealthMonitor(const HealthCheckConfig& config);

  // A record from the health topic. Invalid ones are counted and ignored
  // (never retried: OK is returned either way).
  Status OnRecord(const Record& record);
  std::optional<HealthAlert> Tick(Clock::time_point now);
  HealthMonitorStats stats() const;

  // Severity for `misses` consecutive missed intervals.
  static AlertSeverity SeverityFor(int misses, int threshold);

 private:
  const HealthCheckConfig config_;
  const Clock::time_point started_ = Clock::now();
  mutable std::mutex mu_;
  HealthMonitorStats stats_;
  Clock::time_point last_{};  // steady time of the last valid message
  std::string last_type_;
  int reported_misses_ = 0;  // misses the last alert reported
};

}  // namespace evbus::ops

#endif  // EVBUS_OPS_HEALTH_MONITOR_H_
