// TransportRelay: carries what a transport reports from its own threads
// (asynchronous errors, connection changes) to the bus.
//
// A transport may report as soon as its first handle exists: before
// EventBus::Create() returns, so before the user could set a callback. The
// relay holds those reports until the bus opens it (Start(), the first
// publish or Close(): the callbacks are set by then), then
// hands them over in the order they came; after that it passes each report
// straight through. Without it a broker found down during Create() would be
// in health() but never reach the connection callback or the counters.
//
// Bounds: at most kHeldErrors errors are held (later ones are counted and
// summarised in one error); connection changes are held as the latest state.
//
// Thread safety: every method may be called from any thread. The targets run
// on the reporting thread (or the opening thread for held reports), never
// under the relay's lock, one at a time while held reports are handed over.

#ifndef EVBUS_CORE_TRANSPORT_RELAY_H_
#define EVBUS_CORE_TRANSPORT_RELAY_H_

#include <cstddef>
#include <functional>
#include <mutex>
#include <optional>
#include <vector>

#include "evbus/status.h"

namespace evbus::core {

class TransportRelay {
 public:
  static constexpr size_t kHeldErrors = 32;

  struct Targets {
    std::function<void(const Status&)> error;
    std::function<void(bool connected, const Status& reason)> connection;
  };

  void Error(const Status& status);
  void Connection(bool connected, const Status& reason);

  // Hands the held reports to `targets`, then passes later ones straight
  // through. Only the first call has an effect.
  void Open(Targets targets);

 private:
  struct ConnectionChange {
    bool connected;
    Status reason;
  };
  // REQUIRES: mu_ held. Moves the held reports out.
  void TakeHeldLocked(std::vector<Status>& errors, std::optional<ConnectionChange>& change);

  std::mutex mu_;
  bool open_ = false;     // reports pass straight through
  bool opening_ = false;  // Open() is handing over held reports; hold new ones
  Targets targets_;       // set once, under mu_, before open_ or opening_
  std::vector<Status> held_errors_;
  size_t dropped_errors_ = 0;
  std::optional<ConnectionChange> held_change_;
};

}  // namespace evbus::core

#endif  // EVBUS_CORE_TRANSPORT_RELAY_H_
