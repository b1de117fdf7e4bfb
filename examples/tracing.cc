#include <evbus/evbus.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <optional>
#include <string>

// A tracer in miniature, where OpenTelemetry would plug in: spans are logged
// instead of exported, and the active span is a thread-local, as OTel's
// context is. Only the two evbus hooks are real.
thread_local std::optional<evbus::TraceContext> active_span;

void LogSpan(const char* kind, const std::string& topic, const evbus::TraceContext& span,
             const std::string& parent, const std::string& detail) {
  std::printf("span %-8s %-10s trace=%s span=%s parent=%s %s\n", kind, topic.c_str(),
              span.trace_id.c_str(), span.parent_id.c_str(), parent.c_str(), detail.c_str());
}

// Publishing: a producer span under the active span (a new trace without one),
// its context written into the record.
void InjectProducerSpan(evbus::Record& record) {
  const evbus::TraceContext span = active_span ? active_span->Child() : evbus::TraceContext::New();
  LogSpan("send", record.topic, span, active_span ? active_span->parent_id : "-", "");
  span.Inject(record.headers);
}

// Consuming: a consumer span under the record's context, active while the
// rest of the chain runs, so that what the handler publishes continues the trace.
evbus::Middleware ConsumerSpans() {
  return [](evbus::MessageHandler next) -> evbus::MessageHandler {
    return [next](const evbus::Message& m) {
      const std::optional<evbus::TraceContext> parent = m.delivery.trace();
      active_span = parent ? parent->Child() : evbus::TraceContext::New();
      const auto start = std::chrono::steady_clock::now();
      const evbus::Status status = next(m);
      const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::steady_clock::now() - start)
                          .count();
      LogSpan("process", m.record.topic, *active_span, parent ? parent->parent_id : "-",
              "attempt=" + std::to_string(m.delivery.attempt) + " " + std::to_string(us) + "us " +
                  (status.ok() ? "ok" : status.ToString()));
      active_span.reset();
      return status;
    };
  };
}

int main() {
  auto bus = evbus::EventBus::Create(evbus::Config{});  // the embedded memory broker
  if (!bus.ok()) return 1;
  evbus::Status s = (*bus)->AddPublishInterceptor(InjectProducerSpan);
  if (s.ok()) s = (*bus)->Use(ConsumerSpans());

  // orders -> shipments: the shipment is published inside the order's span.
  if (s.ok()) {
    s = (*bus)->SubscribeEnvelope("orders", [&](const evbus::Envelope& e, const evbus::Delivery&) {
      return (*bus)->PublishEnvelope(
          "shipments", evbus::NewEnvelope(e.aggregate_id, "ShipmentRequested", 1, e.payload));
    });
  }
  std::mutex mu;
  std::condition_variable cv;
  std::optional<std::string> shipment_trace;
  if (s.ok()) {
    s = (*bus)->SubscribeEnvelope("shipments",
                                  [&](const evbus::Envelope&, const evbus::Delivery& d) {
                                    std::lock_guard<std::mutex> lock(mu);
                                    shipment_trace = d.trace() ? d.trace()->trace_id : "none";
                                    cv.notify_all();
                                    return evbus::Status();
                                  });
  }
  if (s.ok()) s = (*bus)->Start();

  // The request that starts it all, in a trace of its own.
  active_span = evbus::TraceContext::New();
  const std::string trace = active_span->trace_id;
  if (s.ok()) {
    s = (*bus)->PublishEnvelope("orders",
                                evbus::NewEnvelope("order-1", "OrderPlaced", 1, R"({"lines":2})"));
  }
  active_span.reset();
  if (s.ok()) {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return shipment_trace.has_value(); });
  }
  auto report = (*bus)->Close();
  if (!s.ok()) std::fprintf(stderr, "%s\n", s.ToString().c_str());
  // One trace from the order's publisher to the shipment's handler.
  return s.ok() && report.ok() && shipment_trace == trace ? 0 : 1;
}
