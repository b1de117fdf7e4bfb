// RetryTimer: makes waiting lanes ready again when their backoff ends.
//
// One thread per bus ("evb-timer") waits for the earliest due time; workers
// never sleep through a backoff. Each lane is scheduled at most once at a
// time, so the heap is bounded by the number of lanes.
//
// Thread safety: thread-safe.

#ifndef EVBUS_CORE_RETRY_TIMER_H_
#define EVBUS_CORE_RETRY_TIMER_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <queue>
#include <vector>

#include "core/thread.h"

namespace evbus::core {

class RetryTimer {
 public:
  using Clock = std::chrono::steady_clock;
  // `fire` runs on the timer thread, without the timer's lock.
  RetryTimer(uint64_t bus_id, std::function<void(uint32_t lane)> fire);
  ~RetryTimer() { Stop(); }

  void Schedule(uint32_t lane, Clock::time_point at);
  // Drops pending timers and joins the thread. Idempotent.
  void Stop();

 private:
  struct Due {
    Clock::time_point at;
    uint32_t lane;
    bool operator>(const Due& o) const { return at > o.at; }
  };
  void Run();

  std::function<void(uint32_t)> fire_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::priority_queue<Due, std::vector<Due>, std::greater<Due>> heap_;
  bool stopping_ = false;
  Thread thread_;
};

}  // namespace evbus::core

#endif  // EVBUS_CORE_RETRY_TIMER_H_
