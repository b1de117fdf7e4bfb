// Connection state: a transport's state changes reach the user's callback,
// off-lock, and show in health() and the metrics.

#include "core/testing.h"
#include "test_support.h"
#include "transport/memory/memory_transport.h"

namespace evbus::test {
namespace {

// The memory transport, with a connection the test can drop and restore.
class FlakyTransport final : public transport::Transport {
 public:
  explicit FlakyTransport(std::unique_ptr<transport::Transport> inner) : inner_(std::move(inner)) {}
  std::string_view name() const override { return inner_->name(); }
  void SetConnectionSink(transport::ConnectionSink sink) override { sink_ = std::move(sink); }
  Result<std::unique_ptr<transport::Producer>> CreateProducer() override {
    return inner_->CreateProducer();
  }
  Result<std::unique_ptr<transport::Consumer>> CreateConsumer(const std::string& group) override {
    return inner_->CreateConsumer(group);
  }
  Status EnsureTopic(const std::string& topic) override { return inner_->EnsureTopic(topic); }
  Result<transport::TopicInfo> DescribeTopic(const std::string& topic) override {
    return inner_->DescribeTopic(topic);
  }
  bool connected() const override { return connected_.load(); }

  void Set(bool connected) {
    connected_ = connected;
    sink_(connected, connected ? Status() : Status(ErrorCode::kUnavailable, "all brokers down"));
  }

 private:
  std::unique_ptr<transport::Transport> inner_;
  transport::ConnectionSink sink_;
  std::atomic<bool> connected_{true};
};

class OpsConnectionTest : public BusTest {
 protected:
  void TearDown() override { ExpectThreadsAtBaseline(); }
};

TEST_F(OpsConnectionTest, StateChangesReachTheCallback) {
  Config config = MemoryConfig(UniqueName("conn"));
  auto owned = std::make_unique<FlakyTransport>(transport::NewMemoryTransport(config));
  FlakyTransport* flaky = owned.get();
  auto created = testing::CreateBusWithTransport(config, std::move(owned));
  ASSERT_TRUE(created.ok());
  std::unique_ptr<EventBus> bus = std::move(created).value();
  std::vector<ConnectionEvent> events;
  bus->SetConnectionCallback([&](const ConnectionEvent& e) {
    // Off-lock: calling back into the bus must not deadlock.
    EXPECT_EQ(bus->health().connected, e.connected);
    events.push_back(e);
  });
  ASSERT_OK(bus->Start());
  flaky->Set(false);
  EXPECT_FALSE(bus->health().healthy);
  flaky->Set(true);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_FALSE(events[0].connected);
  EXPECT_EQ(events[0].transport, "memory");
  EXPECT_EQ(events[0].reason.code(), ErrorCode::kUnavailable);
  EXPECT_TRUE(events[1].connected);
  EXPECT_TRUE(events[1].reason.ok());
  EXPECT_EQ(bus->stats().connection_changes, 2u);
  EXPECT_NE(bus->MetricsText().find("evbus_connection_changes_total{service=\"evbus\"} 2"),
            std::string::npos);
  EXPECT_TRUE(bus->health().healthy);
  ASSERT_TRUE(bus->Close().ok());
}

#ifdef EVBUS_WITH_KAFKA
// A real librdkafka client with no broker to reach: "all brokers down"
// arrives through the transport's connection hook.
TEST_F(OpsConnectionTest, KafkaReportsAllBrokersDown) {
  Config config;
  config.transport = TransportKind::kKafka;
  config.kafka.brokers = {"127.0.0.1:1"};  // nothing listens on port 1
  config.close_timeout = 2s;
  auto created = EventBus::Create(config);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  std::unique_ptr<EventBus> bus = std::move(created).value();
  bus->SetErrorCallback([](const Status&) {});  // expected errors: keep stderr quiet
  ASSERT_OK(bus->Start());                      // publish-only
  // The state flips first, then the hook reports it: wait for both.
  ASSERT_TRUE(Eventually(
      [&] { return !bus->health().connected && bus->stats().connection_changes >= 1; }, 10s));
  EXPECT_NE(bus->health().detail.find("not connected"), std::string::npos);
  ASSERT_TRUE(bus->Close().ok());
}
#endif

}  // namespace
}  // namespace evbus::test
