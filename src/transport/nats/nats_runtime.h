// The process-wide cnats library and the census of its threads.
//
// cnats starts process-wide threads (timers, async callbacks, garbage
// collection) in nats_Open and more per connection and subscription. It names
// none of them and offers no thread hooks, so they are attributed by
// snapshotting /proc/self/task around the calls that start them.
//
// NatsRuntime is reference counted: the first Acquire opens the library; the
// last Release calls nats_CloseAndWait, which returns once every cnats thread
// has exited, so a bus's Close leaves no cnats thread behind (T1).
//
// Thread safety: all functions are thread-safe.

#ifndef EVBUS_TRANSPORT_NATS_NATS_RUNTIME_H_
#define EVBUS_TRANSPORT_NATS_NATS_RUNTIME_H_

#include <cstdint>
#include <functional>
#include <mutex>
#include <set>
#include <vector>

#include "evbus/status.h"

namespace evbus::transport::nats {

// Tids in /proc/self/task.
std::set<int> ListTasks();

// Threads claimed for one owner: registered in the census as "cnats", renamed
// "evb-cnats" (cnats threads inherit their creator's name otherwise).
class ThreadClaims {
 public:
  // Registers every tid present now but not in `before` that nobody registered.
  void ClaimNew(const std::set<int>& before, uint64_t bus_id);
  // Registers every unregistered tid already named "evb-cnats": threads that
  // cnats threads started on their own (on a reconnect: the reconnect
  // thread, then a new reader and flusher), which inherit their creator's
  // name. No snapshot window can catch those.
  void ClaimRenamed(uint64_t bus_id);
  // Waits until each claimed thread is gone (bounded), then unregisters it.
  void ReleaseAll();
  size_t size() const;

 private:
  mutable std::mutex mu_;
  std::vector<int> tids_;
};

// Serialises the windows in which new threads are attributed, so two owners
// do not claim each other's threads.
std::mutex& AttributionMutex();

class NatsRuntime {
 public:
  // Opens the library on first use. Errors: Internal.
  static Status Acquire();
  // The last Release closes the library and waits for its threads.
  // REQUIRES: every connection, subscription and context is destroyed; not
  // called from a cnats thread.
  static void Release();
};

}  // namespace evbus::transport::nats

#endif  // EVBUS_TRANSPORT_NATS_NATS_RUNTIME_H_
