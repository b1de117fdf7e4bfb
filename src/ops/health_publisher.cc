#include "ops/health_publisher.h"

#include "ops/health_message.h"

namespace evbus::ops {

HealthPublisher::HealthPublisher(const HealthCheckConfig& config, std::string source,
                                 std::string bus_type, PublishFn publish)
    : config_(config),
      source_(std::move(source)),
      bus_type_(std::move(bus_type)),
      instance_id_(source_ + "-" +
                   std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count())),
      publish_(std::move(publish)) {
  status_.running = true;
  status_.healthy = true;
}

void HealthPublisher::Settle(uint64_t generation, const Status& outcome) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!pending_ || generation != generation_) return;  // already settled (timed out)
  pending_ = false;
  if (outcome.ok()) {
    ++status_.sent;
    status_.consecutive_failures = 0;
    status_.last_success = std::chrono::system_clock::now();
  } else {
    ++status_.failed;
    ++status_.consecutive_failures;
    status_.last_error = outcome.ToString();
  }
  status_.healthy = status_.consecutive_failures < config_.failure_threshold;
}

void HealthPublisher::Tick(Clock::time_point now) {
  uint64_t generation;
  bool overdue;
  {
    std::lock_guard<std::mutex> lock(mu_);
    overdue = pending_ && now - pending_since_ >= config_.timeout;
    generation = generation_;
  }
  if (overdue) {
    Settle(generation, Status(ErrorCode::kTimeout,
                              "health message not acknowledged within health_check.timeout"));
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (now < next_send_ || pending_) return;
    generation = ++generation_;
    pending_ = true;
    pending_since_ = now;
  }
  next_send_ = now + config_.interval;
  Record record;
  record.topic = config_.topic;
  record.key = source_;
  record.payload = EncodeHealthMessage(NewHealthMessage(source_, bus_type_, instance_id_));
  // The completion may run inline (memory) or later on a transport thread.
  Status s = publish_(std::move(record),
                      [this, generation](const PublishResult& r) { Settle(generation, r.status); });
  if (!s.ok()) Settle(generation, s);
}

HealthPublisherStatus HealthPublisher::status() const {
  std::lock_guard<std::mutex> lock(mu_);
  return status_;
}

}  // namespace evbus::ops
