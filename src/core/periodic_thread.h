// PeriodicThread: one named, census-registered thread that runs a function
// every period until stopped (the bus's "evb-ops" thread: health checks and
// backlog detection). Stop() wakes it at once and joins.
//
// Thread safety: Start/Stop from one owner; Stop is idempotent.

#ifndef EVBUS_CORE_PERIODIC_THREAD_H_
#define EVBUS_CORE_PERIODIC_THREAD_H_

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>

#include "core/thread.h"

namespace evbus::core {

class PeriodicThread {
 public:
  PeriodicThread() = default;
  ~PeriodicThread() { Stop(); }

  // Runs `tick` at once, then every `period` (measured start to start).
  void Start(std::string name, std::string component, uint64_t bus_id,
             std::chrono::nanoseconds period, std::function<void()> tick);
  // REQUIRES: not called from the thread itself; no lock held.
  void Stop();

 private:
  void Run();

  std::chrono::nanoseconds period_{0};
  std::function<void()> tick_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  Thread thread_;
};

}  // namespace evbus::core

#endif  // EVBUS_CORE_PERIODIC_THREAD_H_
