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
#include <memory>
#include <mutex>
#include <set>
#include <vector>

#include "core/thread_claims.h"
#include "evbus/status.h"

namespace evbus::transport::nats {

// The name cnats threads get in the census and the kernel (they inherit
// their creator's otherwise).
inline constexpr char kCnatsThreadName[] = "evb-cnats";

// Threads claimed for one owner: core::ThreadClaims registering them as
// "cnats" and renaming them "evb-cnats". Claim windows are serialised by
// core::ClaimWindowMutex().
std::shared_ptr<core::ThreadClaims> NewCnatsClaims();

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
