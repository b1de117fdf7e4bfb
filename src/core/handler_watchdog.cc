#include "core/handler_watchdog.h"

#include <algorithm>

namespace evbus::core {

HandlerWatchdog::HandlerWatchdog(int workers, const CancelToken& bus_cancel)
    : bus_cancel_(bus_cancel) {
  slots_.reserve(static_cast<size_t>(workers));
  for (int i = 0; i < workers; ++i) slots_.push_back(std::make_unique<Slot>());
}

const CancelToken& HandlerWatchdog::Arm(int worker, std::chrono::nanoseconds timeout,
                                        Clock::time_point now) {
  Slot& slot = *slots_[static_cast<size_t>(worker)];
  std::lock_guard<std::mutex> lock(slot.mu);
  slot.token.emplace();
  // Close cancels the bus token first, then every slot (CancelAll): a call
  // armed in between must start cancelled.
  if (bus_cancel_.cancelled()) slot.token->Cancel();
  slot.deadline = now + timeout;
  slot.timed_out = false;
  return *slot.token;
}

bool HandlerWatchdog::Disarm(int worker) {
  Slot& slot = *slots_[static_cast<size_t>(worker)];
  std::lock_guard<std::mutex> lock(slot.mu);
  slot.deadline = Clock::time_point::max();
  return slot.timed_out;
}

HandlerWatchdog::Clock::time_point HandlerWatchdog::CancelExpired(Clock::time_point now) {
  Clock::time_point next = Clock::time_point::max();
  for (const auto& slot : slots_) {
    std::lock_guard<std::mutex> lock(slot->mu);
    if (slot->deadline == Clock::time_point::max() || slot->timed_out) continue;
    if (slot->deadline <= now) {
      slot->timed_out = true;
      slot->token->Cancel();
    } else {
      next = std::min(next, slot->deadline);
    }
  }
  return next;
}

void HandlerWatchdog::CancelAll() {
  for (const auto& slot : slots_) {
    std::lock_guard<std::mutex> lock(slot->mu);
    if (slot->token) slot->token->Cancel();
  }
}

}  // namespace evbus::core
