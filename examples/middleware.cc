#include <evbus/evbus.h>

#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>

namespace mw = evbus::middleware;

int main() {
  auto bus = evbus::EventBus::Create(evbus::Config{});  // the embedded memory broker
  if (!bus.ok()) return 1;
  std::mutex mu;
  std::condition_variable cv;
  int done = 0;
  auto finished = [&] {
    std::lock_guard<std::mutex> lock(mu);
    ++done;
    cv.notify_all();
    return evbus::Status();
  };

  // Bus-wide, outermost first: an exception becomes an error naming its type,
  // and each message's correlation id is current while it is handled.
  evbus::Status s = (*bus)->Use(mw::Recoverer());
  if (s.ok()) s = (*bus)->Use(mw::CorrelationId());

  // For one subscription: let only OrderPlaced through, and time the handler.
  evbus::SubscribeOptions orders;
  orders.middleware = {mw::TypeFilter({"OrderPlaced"}), mw::Timing()};
  orders.retry.emplace().max_attempts = 1;  // dead-letter at the first failure
  if (s.ok()) {
    s = (*bus)->SubscribeEnvelope(
        "orders",
        [&](const evbus::Envelope& e, const evbus::Delivery&) {
          if (e.payload == "{}") throw std::invalid_argument("order has no lines");
          // No correlation id here: the envelope gets the one of the order handled.
          return (*bus)->PublishEnvelope(
              "shipments", evbus::NewEnvelope(e.aggregate_id, "ShipmentRequested", 1, e.payload));
        },
        orders);
  }
  if (s.ok()) {
    s = (*bus)->SubscribeEnvelope(
        "shipments", [&](const evbus::Envelope& e, const evbus::Delivery&) {
          std::printf("%s for %s, correlation id %s\n", e.event_type.c_str(),
                      e.aggregate_id.c_str(), e.correlation_id.c_str());
          return finished();
        });
  }
  if (s.ok()) {
    s = (*bus)->Subscribe("orders.dlq", [&](const evbus::Record& r, const evbus::Delivery&) {
      std::printf("dead letter: %s\n",
                  std::string(evbus::FindHeader(r.headers, "X-Error").value_or("")).c_str());
      return finished();
    });
  }
  if (!s.ok() || !(s = (*bus)->Start()).ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }

  evbus::Envelope placed = evbus::NewEnvelope("order:1001", "OrderPlaced", 1, R"({"sku":"A7"})");
  placed.correlation_id = "checkout-42";
  for (const evbus::Envelope& e :
       {placed, evbus::NewEnvelope("order:1002", "OrderViewed", 1, "{}"),  // filtered out
        evbus::NewEnvelope("order:1003", "OrderPlaced", 1, "{}")}) {       // throws
    if (!(s = (*bus)->PublishEnvelope("orders", e)).ok()) return 1;
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return done == 2; });
  }
  auto report = (*bus)->Close();  // every handler has returned: the figures are final

  // The handler's durations, by topic, event type and outcome.
  std::istringstream metrics((*bus)->MetricsText());
  for (std::string line; std::getline(metrics, line);) {
    if (line.rfind("evbus_handler_seconds_count", 0) == 0) std::printf("%s\n", line.c_str());
  }
  return report.ok() && report->status.ok() ? 0 : 1;
}
