#include "core/periodic_thread.h"

namespace evbus::core {

void PeriodicThread::Start(std::string name, std::string component, uint64_t bus_id,
                           std::chrono::nanoseconds period, std::function<void()> tick) {
  period_ = period;
  tick_ = std::move(tick);
  thread_ = Thread::Start(std::move(name), std::move(component), bus_id, [this] { Run(); });
}

void PeriodicThread::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.Join();
}

void PeriodicThread::Run() {
  auto next = std::chrono::steady_clock::now();
  for (;;) {
    tick_();  // without mu_: ticks call user callbacks
    next += period_;
    const auto now = std::chrono::steady_clock::now();
    if (next < now) next = now;  // a slow tick skips the missed periods
    std::unique_lock<std::mutex> lock(mu_);
    if (cv_.wait_until(lock, next, [&] { return stopping_; })) return;
  }
}

}  // namespace evbus::core
