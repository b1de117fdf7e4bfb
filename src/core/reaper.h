// Reaper: closes and frees a bus destroyed on one of its own handler threads.
//
// ~EventBus cannot close a bus from one of that bus's workers: Close would
// join the very thread it runs on. Instead the bus is handed over here: a
// thread "evb-reaper" (census owner "reaper", the bus's id) closes it with
// its close_timeout, once the handler has returned, and frees it. Reaper
// threads that have ended are joined at the next handover and at exit.
//
// Thread safety: thread-safe.

#ifndef EVBUS_CORE_REAPER_H_
#define EVBUS_CORE_REAPER_H_

#include <cstdint>
#include <functional>

namespace evbus::core {

// Runs `close_and_free` on a new reaper thread owned by bus `bus_id`.
void Reap(uint64_t bus_id, std::function<void()> close_and_free);

}  // namespace evbus::core

#endif  // EVBUS_CORE_REAPER_H_
