// HandlerWatchdog: enforces a handler timeout (subscriber.handler_timeout,
// SubscribeOptions::handler_timeout).
//
// Each worker owns one slot. A handler call with a timeout is armed with a
// fresh CancelToken and a deadline; the retry timer's thread calls
// CancelExpired, which cancels the token of every call still running past its
// deadline. The dispatcher then counts that attempt as a failure (retried,
// then dead-lettered), whatever the handler returns afterwards. Close cancels
// every armed call with CancelAll. Calls without a timeout are never armed and
// see the bus's own token.
//
// Thread safety: Arm/Disarm for slot w only from worker w; the rest from any
// thread. A slot's lock is held only to swap its token and deadline.

#ifndef EVBUS_CORE_HANDLER_WATCHDOG_H_
#define EVBUS_CORE_HANDLER_WATCHDOG_H_

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "evbus/handler.h"

namespace evbus::core {

class HandlerWatchdog {
 public:
  using Clock = std::chrono::steady_clock;

  // `bus_cancel` (Close's token) outlives the watchdog.
  HandlerWatchdog(int workers, const CancelToken& bus_cancel);

  // Worker `worker` begins a call that must end within `timeout` (> 0). The
  // token it returns is already cancelled when the bus's is.
  const CancelToken& Arm(int worker, std::chrono::nanoseconds timeout, Clock::time_point now);
  // The call returned. True when it ran past its deadline.
  bool Disarm(int worker);

  // Cancels every armed call whose deadline is at or before `now`; returns the
  // earliest deadline still ahead (Clock::time_point::max() when none).
  Clock::time_point CancelExpired(Clock::time_point now);
  // Cancels every armed call (Close, past its drain deadline).
  void CancelAll();

 private:
  struct Slot {
    std::mutex mu;
    std::optional<CancelToken> token;                       // a fresh one per armed call
    Clock::time_point deadline = Clock::time_point::max();  // max: not armed
    bool timed_out = false;
  };

  const CancelToken& bus_cancel_;
  std::vector<std::unique_ptr<Slot>> slots_;
};

}  // namespace evbus::core

#endif  // EVBUS_CORE_HANDLER_WATCHDOG_H_
