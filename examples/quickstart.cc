#include <evbus/evbus.h>

#include <condition_variable>
#include <cstdio>
#include <mutex>

int main() {
  evbus::Config config;  // the embedded memory broker; see examples/evbus.yaml
  auto bus = evbus::EventBus::Create(config);
  if (!bus.ok()) {
    std::fprintf(stderr, "%s\n", bus.status().ToString().c_str());
    return 1;
  }
  std::mutex mu;
  std::condition_variable cv;
  int handled = 0;

  // Handlers are registered before Start(); one aggregate's events run in order.
  evbus::Status s =
      (*bus)->SubscribeEnvelope("orders", [&](const evbus::Envelope& e, const evbus::Delivery& d) {
        std::printf("%s v%lld (attempt %d): %s\n", e.aggregate_id.c_str(),
                    static_cast<long long>(e.event_version), d.attempt, e.payload.c_str());
        std::lock_guard<std::mutex> lock(mu);
        ++handled;
        cv.notify_all();
        return evbus::Status();  // OK settles it; an error is retried, then dead-lettered
      });
  if (!s.ok() || !(s = (*bus)->Start()).ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }

  for (int version = 1; version <= 3; ++version) {
    evbus::Envelope e =
        evbus::NewEnvelope("order:1001", "OrderUpdated", version, R"({"amount":763.20})");
    s = (*bus)->PublishEnvelope("orders", e, [](const evbus::PublishResult& r) {
      if (!r.status.ok())
        std::fprintf(stderr, "%s: %s\n", r.event_id.c_str(), r.status.ToString().c_str());
    });
    if (!s.ok()) return 1;
  }

  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return handled == 3; });
  }
  auto report = (*bus)->Close();  // joins every thread the bus started
  std::printf("%s\n",
              report.ok() ? report->ToString().c_str() : report.status().ToString().c_str());
  return 0;
}
