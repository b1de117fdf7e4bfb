// Metrics: scraped over real HTTP from the bus's listener, and pulled with
// MetricsText(); the listener's threads are the bus's and gone after Close().

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test_support.h"

namespace evbus::test {
namespace {

// A minimal HTTP/1.0 GET over a loopback socket; returns the whole response.
std::string HttpGet(int port, const std::string& path) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    const std::string request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (::send(fd, request.data(), request.size(), 0) == static_cast<ssize_t>(request.size())) {
      char buf[4096];
      ssize_t n;
      while ((n = ::recv(fd, buf, sizeof(buf), 0)) > 0)
        response.append(buf, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  return response;
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class OpsMetricsTest : public BusTest {
 protected:
  void TearDown() override { ExpectThreadsAtBaseline(); }
};

TEST_F(OpsMetricsTest, ScrapedOverHttpShowsTheCounters) {
  Config config = MemoryConfig(UniqueName("metrics"));
  config.service_name = "metrics-test";
  config.metrics.enabled = true;
  config.metrics.listen = "127.0.0.1:0";
  config.subscriber.backlog_interval = 5ms;
  auto created = EventBus::Create(config);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  std::unique_ptr<EventBus> bus = std::move(created).value();
  EXPECT_EQ(bus->metrics_port(), 0);  // nothing listens before Start()
  ASSERT_OK(bus->Subscribe("orders", [&](const Record& r, const Delivery&) {
    return r.payload == "bad" ? Status(ErrorCode::kHandlerFailed, "bad") : Status();
  }));
  ASSERT_OK(bus->Start());
  const int port = bus->metrics_port();
  ASSERT_GT(port, 0);
  EXPECT_EQ(bus->census().ByComponent()["metrics-http"] > 0, true);
  for (int i = 0; i < 10; ++i) {
    Record r;
    r.topic = "orders";
    r.key = "k" + std::to_string(i);
    r.payload = i == 9 ? "bad" : "ok";
    ASSERT_OK(bus->Publish(r));
  }
  ASSERT_TRUE(Eventually([&] {
    BusStats s = bus->stats();
    return s.handled == 9 && s.dead_lettered == 1;
  }));
  const std::string response = HttpGet(port, "/metrics");
  ASSERT_TRUE(Contains(response, "200 OK")) << response;
  const std::string svc = "service=\"metrics-test\"";
  // The bus's own dead-letter publish is not a user publish.
  EXPECT_TRUE(Contains(response, "evbus_published_total{" + svc + ",result=\"ok\"} 10"))
      << response;
  EXPECT_TRUE(Contains(response, "evbus_consumed_total{" + svc + ",outcome=\"handled\"} 9"));
  EXPECT_TRUE(Contains(response, "evbus_consumed_total{" + svc + ",outcome=\"dead_lettered\"} 1"));
  EXPECT_TRUE(Contains(response, "evbus_consume_latency_seconds_count{" + svc + "} 10"));
  EXPECT_TRUE(Contains(response, "evbus_publish_latency_seconds_bucket{"));
  EXPECT_TRUE(Contains(response, "evbus_threads{" + svc + ",owner=\"metrics-http\"}"));
  EXPECT_TRUE(Contains(response, "evbus_threads{" + svc + ",owner=\"worker-pool\"} 4"));
  EXPECT_TRUE(Contains(response, "evbus_up{" + svc + ",state=\"running\"} 1"));
  ASSERT_TRUE(Eventually([&] { return Contains(bus->MetricsText(), "evbus_partition_lag{"); }));

  auto report = bus->Close();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->bus_threads_after_close, 0u);
  EXPECT_EQ(bus->metrics_port(), 0);
  EXPECT_TRUE(HttpGet(port, "/metrics").empty());  // the listener is gone
  const std::string after = bus->MetricsText();
  EXPECT_TRUE(Contains(after, "evbus_close_duration_seconds{"));
  EXPECT_TRUE(Contains(after, "evbus_up{" + svc + ",state=\"closed\"} 0"));
}

TEST_F(OpsMetricsTest, PullApiWithoutListenerStartsNoThread) {
  Config config = MemoryConfig(UniqueName("metrics-pull"));
  config.metrics.listen = "";
  auto created = EventBus::Create(config);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  std::unique_ptr<EventBus> bus = std::move(created).value();
  ASSERT_OK(bus->Start());  // publish-only: no thread at all
  EXPECT_EQ(bus->census().CountForBus(bus->id()), 0u);
  Record r;
  r.topic = "t";
  r.payload = "x";
  ASSERT_OK(bus->Publish(r));
  const std::string text = bus->MetricsText();
  EXPECT_TRUE(Contains(text, "# TYPE evbus_published_total counter")) << text;
  EXPECT_TRUE(Contains(text, "evbus_published_total{service=\"evbus\",result=\"ok\"} 1"));
  // Histograms are declared but not recorded while metrics.enabled is false.
  EXPECT_TRUE(Contains(text, "evbus_publish_latency_seconds_count{service=\"evbus\"} 0"));
  ASSERT_TRUE(bus->Close().ok());
}

TEST_F(OpsMetricsTest, ListenFailureIsAClearStartError) {
  Config config = MemoryConfig(UniqueName("metrics-busy"));
  config.metrics.enabled = true;
  config.metrics.listen = "127.0.0.1:0";
  auto first = EventBus::Create(config);
  ASSERT_TRUE(first.ok());
  ASSERT_OK((*first)->Start());
  config.metrics.listen = "127.0.0.1:" + std::to_string((*first)->metrics_port());
  auto second = EventBus::Create(config);
  ASSERT_TRUE(second.ok());
  Status s = (*second)->Start();
  EXPECT_EQ(s.code(), ErrorCode::kUnavailable) << s.ToString();
  EXPECT_TRUE(Contains(s.message(), config.metrics.listen)) << s.ToString();
  ASSERT_TRUE((*second)->Close().ok());
  ASSERT_TRUE((*first)->Close().ok());
}

}  // namespace
}  // namespace evbus::test
