// Counters: the bus's statistics, updated lock-free from any thread.

#ifndef EVBUS_CORE_COUNTERS_H_
#define EVBUS_CORE_COUNTERS_H_

#include <atomic>
#include <cstdint>

#include "evbus/event_bus.h"

namespace evbus::core {

struct Counters {
  std::atomic<uint64_t> published_ok{0};
  std::atomic<uint64_t> published_failed{0};
  std::atomic<uint64_t> handled{0};
  std::atomic<uint64_t> failed{0};
  std::atomic<uint64_t> retried{0};
  std::atomic<uint64_t> dead_lettered{0};
  std::atomic<uint64_t> poison{0};
  std::atomic<uint64_t> dead_letter_failures{0};
  std::atomic<uint64_t> commits{0};
  std::atomic<uint64_t> pauses{0};
  std::atomic<int64_t> in_flight{0};
  std::atomic<int64_t> in_flight_bytes{0};
  std::atomic<int64_t> publish_in_flight{0};

  BusStats Snapshot() const {
    constexpr auto r = std::memory_order_relaxed;
    return BusStats{published_ok.load(r),     published_failed.load(r),
                    handled.load(r),          failed.load(r),
                    retried.load(r),          dead_lettered.load(r),
                    poison.load(r),           dead_letter_failures.load(r),
                    commits.load(r),          pauses.load(r),
                    in_flight.load(r),        in_flight_bytes.load(r),
                    publish_in_flight.load(r)};
  }
};

}  // namespace evbus::core

#endif  // EVBUS_CORE_COUNTERS_H_
