// Publish results for outbox relays: one result per accepted publish, with
// the envelope's identity, also across Close() (as errors).

#include <set>

#include "core/testing.h"
#include "fault_transport.h"
#include "test_support.h"
#include "transport/memory/memory_transport.h"

namespace evbus::test {
namespace {

class OpsPublishResultsTest : public BusTest {
 protected:
  void TearDown() override { ExpectThreadsAtBaseline(); }

  std::unique_ptr<EventBus> NewBus(const Config& config) {
    auto bus = testing::CreateBusWithTransport(
        config, std::make_unique<FaultTransport>(transport::NewMemoryTransport(config), switches_));
    EXPECT_TRUE(bus.ok()) << bus.status().ToString();
    return bus.ok() ? std::move(bus).value() : nullptr;
  }

  std::shared_ptr<FaultSwitches> switches_ = std::make_shared<FaultSwitches>();
  Signal signal_;
  std::vector<PublishResult> results_;
  PublishCallback Collect() {
    return [this](const PublishResult& r) { signal_.Update([&] { results_.push_back(r); }); };
  }
};

Envelope MakeEnvelope(int i) {
  Envelope e = NewEnvelope("order-" + std::to_string(i % 3), "OrderPlaced", 1, R"({"n":1})");
  return e;
}

TEST_F(OpsPublishResultsTest, EveryAcceptedPublishYieldsOneResultWithItsIdentity) {
  Config config = MemoryConfig(UniqueName("results"));
  auto bus = NewBus(config);
  ASSERT_OK(bus->SetPublishResultCallback(Collect()));
  std::set<std::string> ids;
  for (int i = 0; i < 20; ++i) {
    Envelope e = MakeEnvelope(i);
    ids.insert(e.event_id);
    ASSERT_OK(bus->PublishEnvelope("orders", e));
  }
  Record raw;
  raw.topic = "raw";
  raw.key = "k1";
  raw.headers.push_back({"X-Event-ID", "raw-1"});
  ASSERT_OK(bus->Publish(raw));
  // Refused publishes yield no result.
  EXPECT_FALSE(bus->Publish(Record{}).ok());
  ASSERT_TRUE(signal_.WaitUntil([&] { return results_.size() >= 21; }));
  auto report = bus->Close();
  ASSERT_TRUE(report.ok());
  std::lock_guard<std::mutex> lock(signal_.mutex());
  ASSERT_EQ(results_.size(), 21u);
  std::set<std::string> seen;
  for (size_t i = 0; i < 20; ++i) {
    const PublishResult& r = results_[i];
    EXPECT_TRUE(r.status.ok()) << r.status.ToString();
    EXPECT_EQ(r.topic, "orders");
    EXPECT_EQ(r.event_type, "OrderPlaced");
    EXPECT_EQ(r.aggregate_id.rfind("order-", 0), 0u);
    EXPECT_GE(r.offset, 0);
    EXPECT_NE(r.timestamp.time_since_epoch().count(), 0);
    seen.insert(r.event_id);
  }
  EXPECT_EQ(seen, ids);
  EXPECT_EQ(results_[20].event_id, "raw-1");
  EXPECT_EQ(results_[20].aggregate_id, "k1");
}

TEST_F(OpsPublishResultsTest, PublishesPendingAtCloseCompleteAsClosed) {
  Config config = MemoryConfig(UniqueName("results-close"));
  auto bus = NewBus(config);
  int own_callbacks = 0;
  ASSERT_OK(bus->SetPublishResultCallback(Collect()));
  switches_->hold_completions = true;  // accepted, never acknowledged
  for (int i = 0; i < 7; ++i) {
    ASSERT_OK(bus->PublishEnvelope("orders", MakeEnvelope(i),
                                   [&](const PublishResult&) { ++own_callbacks; }));
  }
  {
    std::lock_guard<std::mutex> lock(signal_.mutex());
    EXPECT_TRUE(results_.empty());
  }
  auto report = bus->Close();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->publishes_failed_on_close, 7u);
  std::lock_guard<std::mutex> lock(signal_.mutex());
  ASSERT_EQ(results_.size(), 7u);  // exactly one each, before Close() returned
  EXPECT_EQ(own_callbacks, 7);
  for (const PublishResult& r : results_) {
    EXPECT_EQ(r.status.code(), ErrorCode::kClosed);
    EXPECT_FALSE(r.event_id.empty());
  }
}

TEST_F(OpsPublishResultsTest, BrokerErrorsAreResultsToo) {
  Config config = MemoryConfig(UniqueName("results-err"));
  auto bus = NewBus(config);
  ASSERT_OK(bus->SetPublishResultCallback(Collect()));
  switches_->SetFailSuffix("broken");
  ASSERT_OK(bus->PublishEnvelope("broken", MakeEnvelope(1)));
  ASSERT_OK(bus->PublishEnvelope("fine", MakeEnvelope(2)));
  ASSERT_TRUE(signal_.WaitUntil([&] { return results_.size() == 2; }));
  ASSERT_TRUE(bus->Close().ok());
  std::lock_guard<std::mutex> lock(signal_.mutex());
  EXPECT_EQ(results_[0].status.code(), ErrorCode::kUnavailable);
  EXPECT_TRUE(results_[1].status.ok());
}

TEST_F(OpsPublishResultsTest, CallbackMustBeSetBeforeStartAndFirstPublish) {
  Config config = MemoryConfig(UniqueName("results-late"));
  auto bus = NewBus(config);
  ASSERT_OK(bus->PublishEnvelope("orders", MakeEnvelope(1)));
  EXPECT_EQ(bus->SetPublishResultCallback(Collect()).code(), ErrorCode::kFailedPrecondition);
  auto started = NewBus(config);
  ASSERT_OK(started->Start());
  EXPECT_EQ(started->SetPublishResultCallback(Collect()).code(), ErrorCode::kFailedPrecondition);
  ASSERT_TRUE(bus->Close().ok());
  ASSERT_TRUE(started->Close().ok());
}

}  // namespace
}  // namespace evbus::test
