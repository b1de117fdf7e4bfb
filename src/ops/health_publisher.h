// HealthPublisher: sends a jxt-core health message every
// health_check.interval and counts consecutive failures against
// health_check.failure_threshold. A send fails when Publish refuses it, when
// the broker reports an error, or when no acknowledgement came within
// health_check.timeout.
//
// Thread safety: Tick() from one thread (the ops thread); status() and the
// delivery callbacks from any thread.

#ifndef EVBUS_OPS_HEALTH_PUBLISHER_H_
#define EVBUS_OPS_HEALTH_PUBLISHER_H_

#include <chrono>
#include <functional>
#include <mutex>

#include "evbus/config.h"
#include "evbus/handler.h"
#include "evbus/ops.h"
#include "evbus/record.h"

namespace evbus::ops {

class HealthPublisher {
 public:
  using Clock = std::chrono::steady_clock;
  using PublishFn = std::function<Status(Record, PublishCallback)>;

  HealthPublisher(const HealthCheckConfig& config, std::string source, std::string bus_type,
                  PublishFn publish);

  // Sends when due; settles a send whose acknowledgement is overdue.
  void Tick(Clock::time_point now);
  HealthPublisherStatus status() const;

 private:
  void Settle(uint64_t generation, const Status& outcome);

  const HealthCheckConfig config_;
  const std::string source_;
  const std::string bus_type_;
  const std::string instance_id_;
  const PublishFn publish_;
  Clock::time_point next_send_{};  // ops thread only

  mutable std::mutex mu_;
  HealthPublisherStatus status_;
  uint64_t generation_ = 0;  // of the send awaiting its outcome
  bool pending_ = false;
  Clock::time_point pending_since_{};
};

}  // namespace evbus::ops

#endif  // EVBUS_OPS_HEALTH_PUBLISHER_H_
