// Behaviours that need a fault: a dead-letter topic that cannot be written,
// a producer whose completions are held. The broker underneath is the real
// memory broker, wrapped (tests/fault_transport.h).

#include <map>

#include "fault_transport.h"
#include "test_support.h"
#include "transport/memory/memory_broker.h"

namespace evbus::test {
namespace {

class FaultTest : public FaultBusTest {};

TEST_F(FaultTest, FailingDeadLetterPublishBlocksTheLaneAndNeverSkips) {
  Config config = MemoryConfig(UniqueName("dlqfail"));
  config.memory.partitions = 1;
  config.subscriber.retry.max_attempts = 1;
  const std::string topic = "orders";
  Signal signal;
  std::vector<std::string> handled;
  std::vector<Status> alerts;
  switches_->SetFailSuffix(".dlq");
  auto bus = NewFaultyBus(config);
  ASSERT_OK(
      bus->SetErrorCallback([&](const Status& s) { signal.Update([&] { alerts.push_back(s); }); }));
  ASSERT_TRUE(bus->Subscribe(topic,
                             [&](const Record& r, const Delivery&) {
                               if (r.payload == "bad")
                                 return Status(ErrorCode::kHandlerFailed, "no");
                               signal.Update([&] { handled.push_back(r.payload); });
                               return Status();
                             })
                  .ok());
  ASSERT_OK(bus->Start());
  for (const char* p : {"first", "bad", "after-1", "after-2"}) {
    Record r;
    r.topic = topic;
    r.key = "same-key";
    r.payload = p;
    ASSERT_TRUE(bus->Publish(r).ok());
  }
  // The dead-letter publish keeps failing: an alert, and nothing behind it runs.
  ASSERT_TRUE(signal.WaitUntil([&] { return alerts.size() >= 3; }));
  {
    std::lock_guard<std::mutex> lock(signal.mutex());
    EXPECT_EQ(handled, std::vector<std::string>{"first"});
    // The alert names the message that holds its key back.
    EXPECT_NE(
        alerts[0].message().find("dead-letter publish of orders[0]@1 (key 'same-key') failed"),
        std::string::npos)
        << alerts[0].ToString();
  }
  EXPECT_FALSE(bus->health().healthy);
  auto broker = transport::MemoryBroker::Named(config.memory.broker, {});
  ASSERT_TRUE(Eventually([&] {
    return broker->Committed(config.subscriber.group, {topic, 0}) == 1;
  }));
  EXPECT_EQ(broker->Committed(config.subscriber.group, {topic, 0}), 1)
      << "committed past the failure";

  switches_->SetFailSuffix("");  // the dead-letter topic recovers
  ASSERT_TRUE(signal.WaitUntil([&] { return handled.size() == 3; }));
  {
    std::lock_guard<std::mutex> lock(signal.mutex());
    EXPECT_EQ(handled, (std::vector<std::string>{"first", "after-1", "after-2"}));
  }
  ASSERT_TRUE(Eventually([&] {
    return broker->Committed(config.subscriber.group, {topic, 0}) == 4;
  }));
  EXPECT_EQ(bus->stats().dead_lettered, 1u);
  EXPECT_GE(bus->stats().dead_letter_failures, 3u);
}

TEST_F(FaultTest, FullPublishQueueWaitsThenFailsAndEveryPublishGetsOneResult) {
  Config config = MemoryConfig(UniqueName("queuefull"));
  config.publisher.max_in_flight = 2;
  config.publisher.timeout = std::chrono::milliseconds(50);
  switches_->hold_completions = true;  // accepted but never acknowledged
  Signal signal;
  std::map<std::string, int> results;
  std::vector<Status> statuses;
  uint64_t failed_on_close = 0;
  {
    auto bus = NewFaultyBus(config);
    auto publish = [&](const std::string& id) {
      Envelope e = NewEnvelope("agg-1", "T", 1, "{}");
      e.event_id = id;
      return bus->PublishEnvelope("t", e, [&, id](const PublishResult& r) {
        signal.Update([&] {
          ++results[r.event_id];
          statuses.push_back(r.status);
        });
      });
    };
    ASSERT_TRUE(publish("e1").ok());
    ASSERT_TRUE(publish("e2").ok());
    const auto before = std::chrono::steady_clock::now();
    Status full = publish("e3");
    EXPECT_EQ(full.code(), ErrorCode::kQueueFull);
    EXPECT_NE(full.message().find("publisher.max_in_flight"), std::string::npos) << full.ToString();
    EXPECT_GE(std::chrono::steady_clock::now() - before, config.publisher.timeout);
    Result<CloseReport> report = bus->Close();
    ASSERT_TRUE(report.ok());
    failed_on_close = report->publishes_failed_on_close;
  }
  std::lock_guard<std::mutex> lock(signal.mutex());
  EXPECT_EQ(results, (std::map<std::string, int>{{"e1", 1}, {"e2", 1}}));  // e3 was refused
  for (const Status& s : statuses) EXPECT_EQ(s.code(), ErrorCode::kClosed);
  EXPECT_EQ(failed_on_close, 2u);
}

}  // namespace
}  // namespace evbus::test
