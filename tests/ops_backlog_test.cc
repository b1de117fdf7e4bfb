// Backlog detection: lag per partition rises while a handler is blocked and
// returns to zero; a blocked lane is a stalled partition (and unhealthy);
// publisher backlog from outstanding publishes; callbacks on each change.

#include "core/testing.h"
#include "fault_transport.h"
#include "test_support.h"
#include "transport/memory/memory_transport.h"

namespace evbus::test {
namespace {

class OpsBacklogTest : public BusTest {
 protected:
  void TearDown() override { ExpectThreadsAtBaseline(); }

  Signal signal_;
  std::vector<BacklogState> changes_;
  BacklogCallback Collect() {
    return [this](const BacklogState& s) { signal_.Update([&] { changes_.push_back(s); }); };
  }
};

TEST_F(OpsBacklogTest, LagRisesWhileBlockedStallIsReportedAndBothClear) {
  Config config = MemoryConfig(UniqueName("backlog"));
  config.memory.partitions = 1;
  config.subscriber.backlog_interval = 5ms;
  config.subscriber.backlog_lag = 10;
  config.subscriber.stall_timeout = 50ms;
  Gate gate;  // outlives the bus: its handler may still wait in it when a check fails
  auto created = EventBus::Create(config);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  std::unique_ptr<EventBus> bus = std::move(created).value();
  ASSERT_OK(bus->SetBacklogCallback(Collect()));
  ASSERT_OK(bus->Subscribe("orders", [&](const Record&, const Delivery& d) {
    return gate.Pass(d.cancel) ? Status() : Status(ErrorCode::kCancelled, "closing");
  }));
  ASSERT_OK(bus->Start());
  for (int i = 0; i < 20; ++i) {
    Record r;
    r.topic = "orders";
    r.key = "same";
    r.payload = std::to_string(i);
    ASSERT_OK(bus->Publish(r));
  }
  // The callback hears the change into backlog once, when the sampled lag
  // first passes backlog_lag (publishing may still be going on then); the
  // whole lag shows in backlog() once all 20 are in.
  ASSERT_TRUE(signal_.WaitUntil([&] {
    return !changes_.empty() && changes_.back().subscriber_backlog;
  })) << "no backlog reported";
  {
    std::lock_guard<std::mutex> lock(signal_.mutex());
    EXPECT_GE(changes_.back().total_lag, config.subscriber.backlog_lag);
  }
  ASSERT_TRUE(Eventually([&] { return bus->backlog().total_lag >= 20; }));
  // The lane is blocked: the frontier does not move, so the partition stalls.
  ASSERT_TRUE(Eventually([&] { return bus->health().stalled_partitions == 1; }));
  Health h = bus->health();
  EXPECT_FALSE(h.healthy);
  EXPECT_NE(h.detail.find("stalled"), std::string::npos) << h.detail;
  ASSERT_TRUE(Eventually([&] { return bus->backlog().stalled_partitions == 1; }));
  BacklogState s = bus->backlog();
  ASSERT_EQ(s.partitions.size(), 1u);
  EXPECT_EQ(s.partitions[0].topic, "orders");
  EXPECT_GE(s.partitions[0].lag, 20);
  EXPECT_GE(s.partitions[0].stalled_for, 50ms);

  gate.Open();
  ASSERT_TRUE(signal_.WaitUntil([&] { return !changes_.back().subscriber_backlog; }))
      << "backlog did not clear";
  ASSERT_TRUE(Eventually([&] {
    BacklogState now = bus->backlog();
    return now.total_lag == 0 && now.stalled_partitions == 0;
  }));
  EXPECT_TRUE(bus->health().healthy) << bus->health().detail;
  ASSERT_TRUE(bus->Close().ok());
}

TEST_F(OpsBacklogTest, OutstandingPublishesArePublisherBacklog) {
  Config config = MemoryConfig(UniqueName("pub-backlog"));
  config.subscriber.backlog_interval = 5ms;
  config.publisher.backlog_in_flight = 3;
  auto switches = std::make_shared<FaultSwitches>();
  auto created = testing::CreateBusWithTransport(
      config, std::make_unique<FaultTransport>(transport::NewMemoryTransport(config), switches));
  ASSERT_TRUE(created.ok());
  std::unique_ptr<EventBus> bus = std::move(created).value();
  ASSERT_OK(bus->SetBacklogCallback(Collect()));
  ASSERT_OK(bus->Start());  // publish-only, yet the backlog callback needs the ops thread
  EXPECT_EQ(bus->census().ByComponent()["ops"], 1u);
  switches->hold_completions = true;
  for (int i = 0; i < 3; ++i) {
    Record r;
    r.topic = "t";
    ASSERT_OK(bus->Publish(r));
  }
  ASSERT_TRUE(signal_.WaitUntil([&] { return !changes_.empty(); }));
  {
    std::lock_guard<std::mutex> lock(signal_.mutex());
    EXPECT_TRUE(changes_.back().publisher_backlog);
    EXPECT_FALSE(changes_.back().subscriber_backlog);
    EXPECT_EQ(changes_.back().publish_in_flight, 3);
    EXPECT_NE(changes_.back().detail.find("publisher.backlog_in_flight"), std::string::npos);
  }
  ASSERT_TRUE(bus->Close().ok());
}

}  // namespace
}  // namespace evbus::test
