// Counters: the bus's statistics, updated lock-free from any thread.

#ifndef EVBUS_CORE_COUNTERS_H_
#define EVBUS_CORE_COUNTERS_H_

#include <atomic>
#include <cstdint>

#include "core/latency_histogram.h"
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
  std::atomic<uint64_t> publish_rate_waits{0};  // publishes that waited for a token
  std::atomic<uint64_t> dispatch_throttled{0};  // messages held back by a subscription's rate
  std::atomic<uint64_t> connection_changes{0};

  // Set once before any thread runs: record the latency histograms.
  bool measure_latency = false;
  LatencyHistogram publish_latency;  // Publish call -> broker acknowledgement
  LatencyHistogram consume_latency;  // record read by the bus -> settled

  BusStats Snapshot() const {
    constexpr auto r = std::memory_order_relaxed;
    return BusStats{published_ok.load(r),
                    published_failed.load(r),
                    handled.load(r),
                    failed.load(r),
                    retried.load(r),
                    dead_lettered.load(r),
                    poison.load(r),
                    dead_letter_failures.load(r),
                    commits.load(r),
                    pauses.load(r),
                    in_flight.load(r),
                    in_flight_bytes.load(r),
                    publish_in_flight.load(r),
                    publish_rate_waits.load(r),
                    dispatch_throttled.load(r),
                    connection_changes.load(r)};
  }
};

}  // namespace evbus::core

#endif  // EVBUS_CORE_COUNTERS_H_
