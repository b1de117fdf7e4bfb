#include "core/retry_timer.h"

#include <algorithm>

namespace evbus::core {

RetryTimer::RetryTimer(uint64_t bus_id, std::function<void(uint32_t)> fire,
                       HandlerWatchdog* watchdog)
    : fire_(std::move(fire)), watchdog_(watchdog) {
  thread_ = Thread::Start("evb-timer", "retry-timer", bus_id, [this] { Run(); });
}

void RetryTimer::Schedule(uint32_t lane, Clock::time_point at) {
  bool earliest;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    earliest = (heap_.empty() || at < heap_.top().at) && at < scan_at_;
    heap_.push(Due{at, lane});
  }
  if (earliest) cv_.notify_one();
}

void RetryTimer::SetScanAtLocked(Clock::time_point at) {
  scan_at_ = at;
  scan_at_hint_.store(at.time_since_epoch().count(), std::memory_order_relaxed);
}

void RetryTimer::ScanBySlow(Clock::time_point deadline) {
  bool earlier = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || deadline >= scan_at_) return;
    earlier = heap_.empty() || deadline < heap_.top().at;
    SetScanAtLocked(deadline);
  }
  if (earlier) cv_.notify_one();
}

void RetryTimer::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    const Clock::time_point now = Clock::now();
    if (watchdog_ != nullptr && scan_at_ <= now) {
      // Reset before scanning: a call armed during the scan either is seen by
      // it or finds the hint at max and calls ScanBy's slow path (the slot's
      // lock orders the two).
      SetScanAtLocked(Clock::time_point::max());
      lock.unlock();
      const Clock::time_point next = watchdog_->CancelExpired(now);
      lock.lock();
      if (next < scan_at_) SetScanAtLocked(next);
      continue;
    }
    if (!heap_.empty() && heap_.top().at <= now) {
      const uint32_t lane = heap_.top().lane;
      heap_.pop();
      lock.unlock();
      fire_(lane);
      lock.lock();
      continue;
    }
    const Clock::time_point wake =
        std::min(heap_.empty() ? Clock::time_point::max() : heap_.top().at, scan_at_);
    if (wake == Clock::time_point::max()) {
      cv_.wait(lock);
    } else {
      cv_.wait_until(lock, wake);
    }
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
