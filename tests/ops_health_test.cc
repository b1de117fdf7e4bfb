// jxt-core health checks: the message format, the publisher's failure count,
// and the monitor's alerts when a publisher stops and when it resumes.

#include "core/testing.h"
#include "fault_transport.h"
#include "ops/health_message.h"
#include "ops/health_monitor.h"
#include "test_support.h"
#include "transport/memory/memory_transport.h"

namespace evbus::test {
namespace {

TEST(OpsHealthMessage, RoundTripsInTheJxtCoreFormat) {
  ops::HealthMessage m = ops::NewHealthMessage("orders-svc", "kafka", "orders-svc-1");
  const std::string json = ops::EncodeHealthMessage(m);
  EXPECT_EQ(json.rfind("{\"messageId\":\"hc-", 0), 0u) << json;
  EXPECT_NE(json.find("\"source\":\"orders-svc\",\"eventBusType\":\"kafka\",\"version\":\"2.0.0\","
                      "\"metadata\":{\"checkType\":\"periodic\",\"instanceId\":\"orders-svc-1\"}}"),
            std::string::npos)
      << json;
  Result<ops::HealthMessage> back = ops::ParseHealthMessage(json);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->message_id, m.message_id);
  EXPECT_EQ(back->source, "orders-svc");
  EXPECT_EQ(back->metadata.at("checkType"), "periodic");
}

TEST(OpsHealthMessage, InvalidMessagesSayWhy) {
  auto error = [](const std::string& json) {
    Result<ops::HealthMessage> r = ops::ParseHealthMessage(json);
    return r.ok() ? std::string() : r.status().message();
  };
  ops::HealthMessage m = ops::NewHealthMessage("svc", "nats", "i");
  m.source.clear();
  EXPECT_NE(error(ops::EncodeHealthMessage(m)).find("source is empty"), std::string::npos);
  m = ops::NewHealthMessage("svc", "rabbit", "i");
  EXPECT_NE(error(ops::EncodeHealthMessage(m)).find("rabbit"), std::string::npos);
  m = ops::NewHealthMessage("svc", "memory", "i");
  m.timestamp -= std::chrono::minutes(6);
  EXPECT_NE(error(ops::EncodeHealthMessage(m)).find("older"), std::string::npos);
  EXPECT_NE(error("[1]").find("not a JSON object"), std::string::npos);
}

TEST(OpsHealthMonitor, SeverityGrowsWithConsecutiveMisses) {
  using ops::HealthMonitor;
  EXPECT_EQ(HealthMonitor::SeverityFor(1, 3), AlertSeverity::kWarning);
  EXPECT_EQ(HealthMonitor::SeverityFor(2, 3), AlertSeverity::kError);
  EXPECT_EQ(HealthMonitor::SeverityFor(3, 3), AlertSeverity::kCritical);
  EXPECT_EQ(HealthMonitor::SeverityFor(1, 1), AlertSeverity::kCritical);
  EXPECT_EQ(ToString(AlertSeverity::kError), "error");
}

class OpsHealthTest : public BusTest {
 protected:
  void TearDown() override { ExpectThreadsAtBaseline(); }

  static Config HealthConfig(const std::string& broker, bool publish, bool monitor) {
    Config c = MemoryConfig(broker);
    c.memory.partitions = 1;
    c.health_check.enabled = true;
    c.health_check.interval = 40ms;
    c.health_check.timeout = 20ms;
    c.health_check.failure_threshold = 3;
    c.health_check.publish = publish;
    c.health_check.monitor = monitor;
    c.subscriber.group = publish ? "publisher-svc" : "monitor-svc";
    c.service_name = publish ? "publisher-svc" : "monitor-svc";
    return c;
  }
  static std::unique_ptr<EventBus> Started(const Config& c) {
    auto bus = EventBus::Create(c);
    EXPECT_TRUE(bus.ok()) << bus.status().ToString();
    if (!bus.ok()) return nullptr;
    Status s = (*bus)->Start();
    EXPECT_TRUE(s.ok()) << s.ToString();
    return std::move(bus).value();
  }
};

TEST_F(OpsHealthTest, AlertFiresWhenThePublisherStopsAndClearsWhenItResumes) {
  const std::string broker = UniqueName("health");
  Signal signal;
  std::vector<HealthAlert> alerts;
  auto monitor_bus = EventBus::Create(HealthConfig(broker, false, true));
  ASSERT_TRUE(monitor_bus.ok());
  ASSERT_OK((*monitor_bus)->SetHealthAlertCallback([&](const HealthAlert& a) {
    signal.Update([&] { alerts.push_back(a); });
  }));
  ASSERT_OK((*monitor_bus)->Start());
  auto publisher = Started(HealthConfig(broker, true, false));
  ASSERT_NE(publisher, nullptr);
  ASSERT_TRUE(Eventually([&] { return (*monitor_bus)->health().health_monitor.received >= 2; }));
  EXPECT_TRUE(publisher->health().health_publisher.healthy);
  EXPECT_GE(publisher->health().health_publisher.sent, 1u);
  EXPECT_EQ((*monitor_bus)->health().health_monitor.last_source, "publisher-svc");

  // The publisher goes away: warning, then error, then critical.
  ASSERT_TRUE(publisher->Close().ok());
  ASSERT_TRUE(signal.WaitUntil(
      [&] { return !alerts.empty() && alerts.back().severity == AlertSeverity::kCritical; }));
  {
    std::lock_guard<std::mutex> lock(signal.mutex());
    ASSERT_GE(alerts.size(), 3u);
    EXPECT_EQ(alerts[0].alert_type, "no_messages");
    EXPECT_EQ(alerts[0].severity, AlertSeverity::kWarning);
    EXPECT_EQ(alerts[1].severity, AlertSeverity::kError);
    EXPECT_EQ(alerts[2].consecutive_misses, 3);
    EXPECT_EQ(alerts[2].source, "publisher-svc");
    EXPECT_EQ(alerts[2].expected_interval, 40ms);
  }
  Health h = (*monitor_bus)->health();
  EXPECT_FALSE(h.healthy);
  EXPECT_NE(h.detail.find("no health-check message"), std::string::npos) << h.detail;

  // It comes back: the alert clears.
  auto resumed = Started(HealthConfig(broker, true, false));
  ASSERT_NE(resumed, nullptr);
  ASSERT_TRUE(signal.WaitUntil([&] { return alerts.back().alert_type == "recovered"; }));
  EXPECT_EQ(alerts.back().severity, AlertSeverity::kInfo);
  ASSERT_TRUE(Eventually([&] { return (*monitor_bus)->health().healthy; }));
  ASSERT_TRUE(resumed->Close().ok());
  ASSERT_TRUE((*monitor_bus)->Close().ok());
}

TEST_F(OpsHealthTest, PublisherCountsConsecutiveFailuresAgainstTheThreshold) {
  Config config = HealthConfig(UniqueName("health-fail"), true, false);
  auto switches = std::make_shared<FaultSwitches>();
  switches->SetFailSuffix(config.health_check.topic);
  auto created = testing::CreateBusWithTransport(
      config, std::make_unique<FaultTransport>(transport::NewMemoryTransport(config), switches));
  ASSERT_TRUE(created.ok());
  std::unique_ptr<EventBus> bus = std::move(created).value();
  ASSERT_OK(bus->Start());
  EXPECT_EQ(bus->census().ByComponent()["ops"], 1u);
  ASSERT_TRUE(Eventually([&] { return !bus->health().health_publisher.healthy; }));
  Health h = bus->health();
  EXPECT_FALSE(h.healthy);
  EXPECT_GE(h.health_publisher.consecutive_failures, 3);
  EXPECT_NE(h.detail.find("injected fault"), std::string::npos) << h.detail;
  EXPECT_EQ(bus->stats().published_ok, 0u);
  // Health messages are not outbox results and do not reach user callbacks.
  switches->SetFailSuffix("");
  ASSERT_TRUE(Eventually([&] { return bus->health().healthy; })) << bus->health().detail;
  ASSERT_TRUE(bus->Close().ok());
}

TEST_F(OpsHealthTest, MonitorRefusesATopicThatAlreadyHasAHandler) {
  Config config = HealthConfig(UniqueName("health-dup"), false, true);
  auto bus = EventBus::Create(config);
  ASSERT_TRUE(bus.ok());
  ASSERT_OK((*bus)->Subscribe(config.health_check.topic,
                              [](const Record&, const Delivery&) { return Status(); }));
  Status s = (*bus)->Start();
  EXPECT_EQ(s.code(), ErrorCode::kAlreadyExists);
  EXPECT_NE(s.message().find("health_check.monitor"), std::string::npos) << s.ToString();
  ASSERT_TRUE((*bus)->Close().ok());
}

}  // namespace
}  // namespace evbus::test
