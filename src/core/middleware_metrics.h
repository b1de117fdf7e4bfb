// MiddlewareMetrics: what the built-in middlewares record into the bus that
// runs them — handler durations (middleware::Timing, evbus_handler_seconds)
// and messages a filter skipped (middleware::TypeFilter,
// evbus_filtered_total) — rendered with the bus's other metrics.
//
// A Middleware is a plain function with no handle on a bus, so the outermost
// wrapper of a subscription's chain makes its bus's MiddlewareMetrics current
// on the worker thread for the call (Scope) and the built-ins find it with
// Current(). One Middleware value may thus serve several buses, each
// counting into its own metrics, and a public API needs no metrics handle.
//
// Thread safety: thread-safe. A series is created once under an exclusive
// lock; later observations take a shared lock and update relaxed atomics.

#ifndef EVBUS_CORE_MIDDLEWARE_METRICS_H_
#define EVBUS_CORE_MIDDLEWARE_METRICS_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/latency_histogram.h"

namespace evbus::core {

class MiddlewareMetrics {
 public:
  // Label sets per family at most (event types come from the messages, so
  // their number is not ours to bound); past it, a new label set counts
  // under event_type kOtherEventType.
  static constexpr size_t kMaxSeries = 1000;
  static constexpr std::string_view kOtherEventType = "_other";

  void ObserveHandler(std::string_view topic, std::string_view event_type, std::string_view outcome,
                      std::chrono::nanoseconds duration);
  void CountFiltered(std::string_view topic, std::string_view event_type);

  struct Labels {
    std::string topic;
    std::string event_type;
    std::string outcome;  // empty for the filtered counter
  };
  struct HandlerSeries {
    Labels labels;
    LatencyHistogram::Snapshot duration;
  };
  struct FilteredSeries {
    Labels labels;
    uint64_t count = 0;
  };
  // Snapshots, ordered by labels.
  std::vector<HandlerSeries> handler_series() const;
  std::vector<FilteredSeries> filtered_series() const;

  // The metrics of the bus whose middleware chain runs on this thread; null
  // outside one (e.g. a chain called directly by a test).
  static MiddlewareMetrics* Current();

  // Makes `metrics` current on this thread until destroyed (then restores
  // the previous one).
  class Scope {
   public:
    explicit Scope(MiddlewareMetrics* metrics);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    MiddlewareMetrics* previous_;
  };

 private:
  template <typename Value>
  struct Series {
    Labels labels;
    Value value;
  };
  // Keyed by the labels joined with '\x1f', so a lookup builds no strings.
  template <typename Value>
  using Family = std::map<std::string, std::unique_ptr<Series<Value>>, std::less<>>;

  template <typename Value>
  Value& Find(Family<Value>& family, std::string_view topic, std::string_view event_type,
              std::string_view outcome);

  mutable std::shared_mutex mu_;
  Family<LatencyHistogram> handler_;
  Family<std::atomic<uint64_t>> filtered_;
};

}  // namespace evbus::core

#endif  // EVBUS_CORE_MIDDLEWARE_METRICS_H_
