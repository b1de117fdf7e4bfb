// RetryTimer: makes waiting lanes ready again when their backoff ends, and
// runs the handler watchdog at its deadlines.
//
// One thread per bus ("evb-timer") waits for the earliest due time; workers
// never sleep through a backoff. Each lane is scheduled at most once at a
// time and only while it waits (LaneScheduler), so the heap is bounded by the
// waiting lanes, at most the messages in flight. Handler deadlines are
// not queued: the timer keeps one scan time, the earliest armed deadline,
// and the watchdog itself tells it the next one after each scan.
//
// Thread safety: thread-safe.

#ifndef EVBUS_CORE_RETRY_TIMER_H_
#define EVBUS_CORE_RETRY_TIMER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <queue>
#include <vector>

#include "core/handler_watchdog.h"
#include "core/thread.h"

namespace evbus::core {

class RetryTimer {
 public:
  using Clock = std::chrono::steady_clock;
  // `fire` runs on the timer thread, without the timer's lock. `watchdog`
  // (may be null) outlives the timer.
  RetryTimer(uint64_t bus_id, std::function<void(uint32_t lane)> fire,
             HandlerWatchdog* watchdog = nullptr);
  ~RetryTimer() { Stop(); }

  void Schedule(uint32_t lane, Clock::time_point at);
  // A handler call was armed with `deadline`: scan the watchdog by then.
  // Costs one atomic load when a scan is already due earlier.
  void ScanBy(Clock::time_point deadline) {
    if (deadline.time_since_epoch().count() < scan_at_hint_.load(std::memory_order_relaxed)) {
      ScanBySlow(deadline);
    }
  }
  // Drops pending timers and joins the thread. Idempotent.
  void Stop();

 private:
  struct Due {
    Clock::time_point at;
    uint32_t lane;
    bool operator>(const Due& o) const { return at > o.at; }
  };
  void Run();
  void ScanBySlow(Clock::time_point deadline);
  void SetScanAtLocked(Clock::time_point at);

  std::function<void(uint32_t)> fire_;
  HandlerWatchdog* const watchdog_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::priority_queue<Due, std::vector<Due>, std::greater<Due>> heap_;
  Clock::time_point scan_at_ = Clock::time_point::max();  // next watchdog scan
  std::atomic<Clock::rep> scan_at_hint_{Clock::time_point::max().time_since_epoch().count()};
  bool stopping_ = false;
  Thread thread_;
};

}  // namespace evbus::core

#endif  // EVBUS_CORE_RETRY_TIMER_H_
