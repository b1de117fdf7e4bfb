// Attributing threads that a client library starts without telling us
// (civetweb under prometheus-cpp's Exposer, cnats): snapshot /proc/self/task
// before the call that starts them, claim the new tids after it.
//
// Thread safety: thread-safe. Hold ClaimWindowMutex() across snapshot, call
// and claim, so two owners do not claim each other's threads.

#ifndef EVBUS_CORE_THREAD_CLAIMS_H_
#define EVBUS_CORE_THREAD_CLAIMS_H_

#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace evbus::core {

// Tids in /proc/self/task.
std::set<int> ListTasks();

std::mutex& ClaimWindowMutex();

class ThreadClaims {
 public:
  ThreadClaims(std::string component, std::string rename)
      : component_(std::move(component)), rename_(std::move(rename)) {}
  // Registers every tid present now but not in `before` that nobody registered.
  void ClaimNew(const std::set<int>& before, uint64_t bus_id);
  // Registers every unregistered tid already carrying the `rename` name:
  // threads that claimed threads started on their own (cnats, on a
  // reconnect), which inherit their creator's name. No snapshot window can
  // catch those. First forgets claimed threads that are gone.
  // REQUIRES: a non-empty `rename`.
  void ClaimRenamed(uint64_t bus_id);
  // Waits until each claimed thread is gone (bounded), then unregisters it.
  // REQUIRES: the library has been told to stop them (joined).
  void ReleaseAll();
  size_t size() const;

 private:
  const std::string component_;
  const std::string rename_;  // kernel name given to claimed threads ("" = keep)
  mutable std::mutex mu_;
  std::vector<int> tids_;
};

}  // namespace evbus::core

#endif  // EVBUS_CORE_THREAD_CLAIMS_H_
