// The one way evbus starts a thread: named, registered in the census with its
// owner, and joined by the handle's owner (never detached).

#ifndef EVBUS_CORE_THREAD_H_
#define EVBUS_CORE_THREAD_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

namespace evbus::core {

// A joining thread handle. Destroying a joinable Thread joins it.
class Thread {
 public:
  Thread() = default;
  // Starts `body` on a new thread named `name` (truncated to 15 characters),
  // registered as owned by `component` of bus `bus_id`.
  static Thread Start(std::string name, std::string component, uint64_t bus_id,
                      std::function<void()> body);

  Thread(Thread&&) noexcept = default;
  Thread& operator=(Thread&& other) noexcept;
  ~Thread() { Join(); }

  bool joinable() const { return thread_.joinable(); }
  // Joins, then waits until the kernel has removed the task from
  // /proc/self/task, so a census taken right after sees it gone.
  // REQUIRES: not called from the thread itself; no lock held.
  void Join();

 private:
  std::thread thread_;
  std::shared_ptr<std::atomic<int>> tid_;
};

// Registry of threads by kernel tid, used by Thread and by transports for
// their client libraries' threads (librdkafka interceptors, cnats snapshots).
void RegisterThread(int tid, std::string_view component, uint64_t bus_id);
void UnregisterThread(int tid);
int CurrentTid();

// Waits (bounded, about a second) until /proc/self/task/<tid> is gone: pthread_join
// returns slightly before the kernel reaps a thread.
void WaitForTaskGone(int tid);

// A new id for a bus, unique in the process.
uint64_t NextBusId();

}  // namespace evbus::core

#endif  // EVBUS_CORE_THREAD_H_
