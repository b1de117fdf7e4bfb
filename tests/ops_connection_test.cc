// Connection state: a transport's state changes reach the user's callback,
// off-lock, and show in health() and the metrics.

#include "core/testing.h"
#include "core/transport_relay.h"
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
  void SetErrorSink(transport::ErrorSink sink) override { error_sink_ = std::move(sink); }
  // Like a Kafka client whose broker is unreachable: it reports from its own
  // threads as soon as the producer exists, before the bus does.
  void FailAtCreate() { fail_at_create_ = true; }
  Result<std::unique_ptr<transport::Producer>> CreateProducer() override {
    if (fail_at_create_) {
      error_sink_(Status(ErrorCode::kUnavailable, "connect to broker-1 refused"));
      Set(false);
    }
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
  transport::ErrorSink error_sink_;
  bool fail_at_create_ = false;
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
  ASSERT_OK(bus->SetConnectionCallback([&](const ConnectionEvent& e) {
    // Off-lock: calling back into the bus must not deadlock.
    EXPECT_EQ(bus->health().connected, e.connected);
    events.push_back(e);
  }));
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

// A broker found down while the bus is being created, before any callback
// could be set: the callbacks set before Start() still hear of it.
TEST_F(OpsConnectionTest, ReportsFromBeforeStartReachTheCallbacksAtStart) {
  Config config = MemoryConfig(UniqueName("conn"));
  auto owned = std::make_unique<FlakyTransport>(transport::NewMemoryTransport(config));
  FlakyTransport* flaky = owned.get();
  flaky->FailAtCreate();
  auto created = testing::CreateBusWithTransport(config, std::move(owned));
  ASSERT_TRUE(created.ok());
  std::unique_ptr<EventBus> bus = std::move(created).value();
  std::vector<ConnectionEvent> events;
  std::vector<Status> errors;
  ASSERT_OK(bus->SetConnectionCallback([&](const ConnectionEvent& e) { events.push_back(e); }));
  ASSERT_OK(bus->SetErrorCallback([&](const Status& s) { errors.push_back(s); }));
  EXPECT_FALSE(bus->health().connected);
  EXPECT_TRUE(events.empty());
  ASSERT_OK(bus->Start());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_FALSE(events[0].connected);
  EXPECT_EQ(events[0].reason.code(), ErrorCode::kUnavailable);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].message().find("broker-1 refused"), std::string::npos);
  EXPECT_EQ(bus->stats().connection_changes, 1u);
  flaky->Set(true);  // later changes pass straight through
  ASSERT_EQ(events.size(), 2u);
  EXPECT_TRUE(events[1].connected);
  ASSERT_TRUE(bus->Close().ok());
}

TEST(TransportRelay, HoldsABoundedBacklogAndKeepsTheNetConnectionChange) {
  core::TransportRelay relay;
  for (size_t i = 0; i < core::TransportRelay::kHeldErrors + 5; ++i) {
    relay.Error(Status(ErrorCode::kUnavailable, "e" + std::to_string(i)));
  }
  relay.Connection(false, Status(ErrorCode::kUnavailable, "down"));
  relay.Connection(true, Status());  // back before anyone listened: no change
  std::vector<Status> errors;
  std::vector<bool> changes;
  core::TransportRelay::Targets targets;
  targets.error = [&](const Status& s) { errors.push_back(s); };
  targets.connection = [&](bool up, const Status&) { changes.push_back(up); };
  relay.Open(targets);
  ASSERT_EQ(errors.size(), core::TransportRelay::kHeldErrors + 1);
  EXPECT_EQ(errors.front().message(), "e0");
  EXPECT_NE(errors.back().message().find("and 5 more"), std::string::npos);
  EXPECT_TRUE(changes.empty());
  relay.Connection(false, Status(ErrorCode::kUnavailable, "down"));
  EXPECT_EQ(changes, std::vector<bool>{false});
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
  ASSERT_OK(bus->SetErrorCallback([](const Status&) {}));  // expected errors: keep stderr quiet
  ASSERT_OK(bus->Start());                                 // publish-only
  // The state flips first, then the hook reports it: wait for both.
  ASSERT_TRUE(Eventually(
      [&] { return !bus->health().connected && bus->stats().connection_changes >= 1; }, 10s));
  EXPECT_NE(bus->health().detail.find("not connected"), std::string::npos);
  ASSERT_TRUE(bus->Close().ok());
}
#endif

}  // namespace
}  // namespace evbus::test
