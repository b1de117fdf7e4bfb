#include <evbus/evbus.h>

#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <optional>
#include <string>

// Stands in for the tracer's active span (with OpenTelemetry: the current
// span's context, its ids as lowercase hex).
thread_local evbus::TraceContext active_span = evbus::TraceContext::New();

int Fail(const evbus::Status& s) {
  std::fprintf(stderr, "%s\n", s.ToString().c_str());
  return 1;
}

int main() {
  evbus::Config config;  // the embedded memory broker
  config.subscriber.retry.max_attempts = 2;
  auto bus = evbus::EventBus::Create(config);
  if (!bus.ok()) return Fail(bus.status());

  // Every publish carries the publishing span's context, as a new child span.
  evbus::Status s = (*bus)->AddPublishInterceptor(
      [](evbus::Record& record) { active_span.Child().Inject(record.headers); });
  if (!s.ok()) return Fail(s);

  s = (*bus)->SubscribeEnvelope("payments", [](const evbus::Envelope&, const evbus::Delivery& d) {
    std::optional<evbus::TraceContext> trace = d.trace();  // the consumer span's parent
    std::printf("attempt %d in trace %s, parent span %s\n", d.attempt,
                trace ? trace->trace_id.c_str() : "-", trace ? trace->parent_id.c_str() : "-");
    return evbus::Status(evbus::ErrorCode::kHandlerFailed, "card declined");  // then dead-lettered
  });
  if (!s.ok()) return Fail(s);

  std::mutex mu;
  std::condition_variable cv;
  std::optional<std::string> dead_letter_trace;
  s = (*bus)->Subscribe("payments.dlq", [&](const evbus::Record&, const evbus::Delivery& d) {
    std::optional<evbus::TraceContext> trace = d.trace();  // dead letters keep the headers
    std::lock_guard<std::mutex> lock(mu);
    dead_letter_trace = trace ? trace->trace_id : "none";
    cv.notify_all();
    return evbus::Status();
  });
  if (!s.ok() || !(s = (*bus)->Start()).ok()) return Fail(s);

  s = (*bus)->PublishEnvelope("payments",
                              evbus::NewEnvelope("payment:7", "PaymentRequested", 1, "{}"));
  if (!s.ok()) return Fail(s);
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return dead_letter_trace.has_value(); });
  }
  std::printf("dead letter in trace %s\n", dead_letter_trace->c_str());
  auto report = (*bus)->Close();
  return report.ok() && *dead_letter_trace == active_span.trace_id ? 0 : 1;
}
