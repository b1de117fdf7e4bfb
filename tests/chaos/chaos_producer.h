// The chaos and failover runs' producer: publishes o.events envelopes paced
// at o.rate (event i is version i / aggregates + 1 of aggregate
// i % aggregates) and records what each publish came to.

#ifndef EVBUS_TESTS_CHAOS_CHAOS_PRODUCER_H_
#define EVBUS_TESTS_CHAOS_CHAOS_PRODUCER_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "chaos/chaos.h"
#include "chaos/chaos_ledger.h"
#include "evbus/event_bus.h"

namespace evbus::chaos {

// CLOCK_MONOTONIC in ns: one clock for every process of the machine, as the
// consumers' logs have it.
inline int64_t MonotonicNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// What the producer's publishes came to.
struct Publishes {
  std::mutex mu;
  std::condition_variable cv;
  int64_t accepted = 0, completed = 0, refused = 0, failed = 0;
  std::set<EventKey> acknowledged;
  std::string first_error;  // of a failed publish, for the report
  // By event index when timed (Produce's `timed`): when it was published and
  // acknowledged (0: not acknowledged).
  std::vector<int64_t> sent_ns, acked_ns;
};

inline void Produce(const Options& o, EventBus& bus, Publishes& p, bool timed = false) {
  if (timed) {
    std::lock_guard<std::mutex> lock(p.mu);
    p.sent_ns.assign(static_cast<size_t>(o.events), 0);
    p.acked_ns.assign(static_cast<size_t>(o.events), 0);
  }
  const auto start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < o.events; ++i) {
    // Paced at o.rate: the load of a service, not a burst (a pacing wait).
    std::this_thread::sleep_until(start + std::chrono::microseconds(i * 1'000'000 / o.rate));
    const EventKey k{i % o.aggregates, i / o.aggregates + 1};
    Envelope e = NewEnvelope("agg-" + std::to_string(k.aggregate), "chaos.Event", k.version,
                             "{\"i\":" + std::to_string(i) + "}");
    if (timed) {
      std::lock_guard<std::mutex> lock(p.mu);
      p.sent_ns[static_cast<size_t>(i)] = MonotonicNanos();
    }
    Status s = bus.PublishEnvelope(o.topic, e, [&p, k, i, timed](const PublishResult& r) {
      const int64_t now = timed ? MonotonicNanos() : 0;
      std::lock_guard<std::mutex> lock(p.mu);
      ++p.completed;
      if (r.status.ok()) {
        p.acknowledged.insert(k);
        if (timed) p.acked_ns[static_cast<size_t>(i)] = now;
      } else {
        if (p.failed++ == 0) p.first_error = r.status.ToString();
      }
      p.cv.notify_all();
    });
    std::lock_guard<std::mutex> lock(p.mu);
    ++(s.ok() ? p.accepted : p.refused);
    if (!s.ok() && p.first_error.empty()) p.first_error = s.ToString();
  }
}

}  // namespace evbus::chaos

#endif  // EVBUS_TESTS_CHAOS_CHAOS_PRODUCER_H_
