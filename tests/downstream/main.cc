// Publishes and consumes on the memory broker through an installed evbus,
// and prints what a user would check: the version it built against, every
// event handled in order, and no thread left after Close().

#include <evbus/evbus.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <vector>

int main() {
#ifdef EVBUS_PACKAGE_VERSION  // built with CMake: the package and the header agree
  if (std::strcmp(EVBUS_PACKAGE_VERSION, EVBUS_VERSION_STRING) != 0) {
    std::fprintf(stderr, "package version %s, header %s\n", EVBUS_PACKAGE_VERSION,
                 EVBUS_VERSION_STRING);
    return 1;
  }
#endif
  const size_t threads_before = evbus::CountProcessThreads();
  evbus::Config config;  // the memory broker
  config.subscriber.workers = 2;
  auto bus = evbus::EventBus::Create(config);
  if (!bus.ok()) {
    std::fprintf(stderr, "%s\n", bus.status().ToString().c_str());
    return 1;
  }
  constexpr int kEvents = 100;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<int64_t> versions;
  evbus::Status s = (*bus)->SubscribeEnvelope(
      "downstream.orders", [&](const evbus::Envelope& e, const evbus::Delivery&) {
        std::lock_guard<std::mutex> lock(mu);
        versions.push_back(e.event_version);
        cv.notify_all();
        return evbus::Status();
      });
  if (s.ok()) s = (*bus)->Start();
  for (int v = 1; s.ok() && v <= kEvents; ++v) {
    s = (*bus)->PublishEnvelope("downstream.orders",
                                evbus::NewEnvelope("order-1", "OrderUpdated", v, R"({"n":1})"));
  }
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }
  bool in_order = true;
  {
    std::unique_lock<std::mutex> lock(mu);
    if (!cv.wait_for(lock, std::chrono::seconds(30), [&] { return versions.size() >= kEvents; })) {
      std::fprintf(stderr, "handled %zu of %d\n", versions.size(), kEvents);
      return 1;
    }
    for (size_t i = 0; i < versions.size(); ++i) in_order &= versions[i] == int64_t(i) + 1;
  }
  auto report = (*bus)->Close();
  if (!report.ok()) {
    std::fprintf(stderr, "%s\n", report.status().ToString().c_str());
    return 1;
  }
  const size_t threads_after = evbus::CountProcessThreads();
  std::printf("evbus %s: handled %d of %d %s; threads %zu -> %zu\n", EVBUS_VERSION_STRING,
              static_cast<int>(versions.size()), kEvents, in_order ? "in order" : "OUT OF ORDER",
              threads_before, threads_after);
  return in_order && threads_after == threads_before ? 0 : 1;
}
