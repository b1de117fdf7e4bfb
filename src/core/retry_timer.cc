#include "core/retry_timer.h"

namespace evbus::core {

RetryTimer::RetryTimer(uint64_t bus_id, std::function<void(uint32_t)> fire)
    : fire_(std::move(fire)) {
  thread_ = Thread::Start("evb-timer", "retry-timer", bus_id, [this] { Run(); });
}

void RetryTimer::Schedule(uint32_t lane, Clock::time_point at) {
  bool earliest;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    earliest = heap_.empty() || at < heap_.top().at;
    heap_.push(Due{at, lane});
  }
  if (earliest) cv_.notify_one();
}

void RetryTimer::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    if (heap_.empty()) {
      cv_.wait(lock);
      continue;
    }
    const Clock::time_point at = heap_.top().at;
    if (Clock::now() < at) {
      cv_.wait_until(lock, at);
      continue;
    }
    const uint32_t lane = heap_.top().lane;
    heap_.pop();
    lock.unlock();
    fire_(lane);
    lock.lock();
  }
}

void RetryTimer::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    heap_ = {};
  }
  cv_.notify_all();
  thread_.Join();
}

}  // namespace evbus::core
