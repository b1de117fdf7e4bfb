// Metrics: the bus's figures as Prometheus metric families, rendered as text
// (EventBus::MetricsText) or served over HTTP by MetricsExporter.
//
// Nothing here is on the message path: the engine keeps relaxed atomic
// counters and histograms (core::Counters); a scrape reads them once into a
// MetricsInput and builds the families from that.
//
// Thread safety: the functions are reentrant; MetricsExporter calls its
// source from civetweb threads, so the source must be thread-safe.

#ifndef EVBUS_OPS_METRICS_H_
#define EVBUS_OPS_METRICS_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/latency_histogram.h"
#include "core/middleware_metrics.h"
#include "core/thread_claims.h"
#include "evbus/event_bus.h"
#include "evbus/ops.h"

namespace prometheus {
class Exposer;
class Collectable;
}  // namespace prometheus

namespace evbus::ops {

// One scrape's worth of figures.
struct MetricsInput {
  std::string service;
  std::string transport;
  BusState state = BusState::kCreated;
  bool connected = false;
  BusStats stats;
  core::LatencyHistogram::Snapshot publish_latency;
  core::LatencyHistogram::Snapshot consume_latency;
  // Recorded by the built-in middlewares (middleware::Timing, TypeFilter).
  std::vector<core::MiddlewareMetrics::HandlerSeries> handler_timings;
  std::vector<core::MiddlewareMetrics::FilteredSeries> filtered;
  BacklogState backlog;
  Health health;
  std::map<std::string, size_t> threads;  // process threads by owner component
  std::optional<CloseReport> close;
};

std::string RenderMetricsText(const MetricsInput& input);

// An HTTP listener serving /metrics; its civetweb threads are claimed in
// the census for the bus ("metrics-http") and gone when it is destroyed.
class MetricsExporter {
 public:
  using Source = std::function<MetricsInput()>;

  // Errors: Unavailable (cannot listen on `listen`).
  static Result<std::unique_ptr<MetricsExporter>> Start(const std::string& listen, uint64_t bus_id,
                                                        Source source);
  // Stops the listener and waits until its threads have exited.
  // REQUIRES: no lock held (joins threads).
  ~MetricsExporter();

  int port() const { return port_; }

 private:
  MetricsExporter();

  std::shared_ptr<prometheus::Collectable> collectable_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  core::ThreadClaims claims_;
  uint64_t bus_id_ = 0;
  int port_ = 0;
};

}  // namespace evbus::ops

#endif  // EVBUS_OPS_METRICS_H_
