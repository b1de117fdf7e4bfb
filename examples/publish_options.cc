#include <evbus/evbus.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <vector>

int main() {
  evbus::Config config;  // the embedded memory broker
  auto bus = evbus::EventBus::Create(config);
  if (!bus.ok()) {
    std::fprintf(stderr, "%s\n", bus.status().ToString().c_str());
    return 1;
  }

  evbus::PublishOptions options;
  options.headers = {{"tenant", "eu-1"}};            // after the envelope's X-* headers
  options.partition = 2;                             // not the aggregate's: its order is yours
  options.timeout = std::chrono::milliseconds(500);  // for room, and for the acknowledgement

  // Waits for the broker's acknowledgement: where the record was stored.
  evbus::Result<evbus::PublishResult> placed = (*bus)->PublishEnvelopeSync(
      "orders", evbus::NewEnvelope("order:1001", "OrderPlaced", 1, R"({"amount":10})"), options);
  if (!placed.ok()) {  // Timeout: no acknowledgement yet; the result callback gets it later
    std::fprintf(stderr, "%s\n", placed.status().ToString().c_str());
    return 1;
  }
  std::printf("stored in partition %d at offset %lld\n", placed->partition,
              static_cast<long long>(placed->offset));

  // One result per envelope, also for those not accepted (queue full, closing).
  std::vector<evbus::Envelope> batch;
  for (int version = 2; version <= 4; ++version) {
    batch.push_back(evbus::NewEnvelope("order:1001", "OrderUpdated", version, "{}"));
  }
  std::atomic<int> stored{0};
  evbus::Status s =
      (*bus)->PublishBatch("orders", batch, [&](size_t i, const evbus::PublishResult& r) {
        if (r.status.ok()) {
          ++stored;
        } else {
          std::fprintf(stderr, "envelope %zu: %s\n", i, r.status.ToString().c_str());
        }
      });
  if (!s.ok()) std::fprintf(stderr, "%s\n", s.ToString().c_str());  // the first refusal

  auto report = (*bus)->Close();  // every accepted publish has had its result
  std::printf("batch: %d of %zu stored\n", stored.load(), batch.size());
  return report.ok() && placed->partition == 2 && stored == 3 ? 0 : 1;
}
