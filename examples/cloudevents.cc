#include <evbus/evbus.h>

#include <condition_variable>
#include <cstdio>
#include <mutex>

int main() {
  evbus::Config config;                    // the embedded memory broker
  config.service_name = "orders-service";  // the CloudEvents "source" of what this bus publishes
  // In YAML: topics: {orders: {format: cloudevents_binary}}
  config.topics["orders"].format = evbus::EventFormat::kCloudEventsBinary;
  auto bus = evbus::EventBus::Create(config);
  if (!bus.ok()) {
    std::fprintf(stderr, "%s\n", bus.status().ToString().c_str());
    return 1;
  }
  std::mutex mu;
  std::condition_variable cv;
  int handled = 0;

  // Envelope subscribers read CloudEvents in either mode, from any producer.
  evbus::Status s =
      (*bus)->SubscribeEnvelope("orders", [&](const evbus::Envelope& e, const evbus::Delivery& d) {
        const bool binary =
            evbus::DetectCloudEvent(d.record.headers) == evbus::CloudEventMode::kBinary;
        std::printf("%s %s v%lld (%s): %s\n", e.aggregate_id.c_str(), e.event_type.c_str(),
                    static_cast<long long>(e.event_version), binary ? "binary" : "structured",
                    e.payload.c_str());
        std::lock_guard<std::mutex> lock(mu);
        ++handled;
        cv.notify_all();
        return evbus::Status();
      });
  if (!s.ok() || !(s = (*bus)->Start()).ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }

  // An envelope, written as the topic's format says: ce_id, ce_source, ... headers.
  s = (*bus)->PublishEnvelope(
      "orders", evbus::NewEnvelope("order:1001", "OrderPlaced", 1, R"({"amount":763.20})"));

  // A CloudEvent as another service writes it, here in structured mode.
  evbus::CloudEvent paid;
  paid.id = "inv-77";
  paid.source = "https://billing.example.com";
  paid.type = "com.example.invoice.paid";
  paid.subject = "order:1001";  // becomes the aggregate id
  paid.datacontenttype = "application/json";
  paid.data = R"({"paid":true})";
  evbus::Record record;
  record.topic = "orders";
  record.key = paid.subject;
  if (s.ok()) {
    s = evbus::EncodeCloudEvent(paid, evbus::CloudEventMode::kStructured,
                                evbus::CloudEventBinding::kKafka, record);
  }
  if (s.ok()) s = (*bus)->Publish(std::move(record));
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }

  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return handled == 2; });
  }
  auto report = (*bus)->Close();
  return report.ok() ? 0 : 1;
}
