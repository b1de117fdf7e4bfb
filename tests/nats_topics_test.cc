// Per-topic settings on a real nats-server -js: retention and replicas of the
// streams evbus creates, and ephemeral topics (Core NATS, no stream).

#include "ephemeral_support.h"
#include "nats_support.h"

namespace evbus::test {
namespace {

class NatsTopicsTest : public ServerTest {
 protected:
  NatsTopicsTest() : ServerTest("ntopics", NatsTestUnavailable, NatsTestConfig) {}
};

TEST_F(NatsTopicsTest, StreamsTakeTheTopicsRetention) {
  const std::string topic = unique_ + "-orders";
  TopicConfig settings;
  settings.retention = std::chrono::hours(2);
  config_.topics[topic] = settings;
  std::unique_ptr<EventBus> bus = NewBus(config_);
  ASSERT_NE(bus, nullptr);
  Signal acked;
  bool done = false, ok = false;
  ASSERT_OK(bus->Publish(Record{topic, "k", {}, "x"}, [&](const PublishResult& r) {
    acked.Update([&] { done = true, ok = r.status.ok(); });
  }));
  ASSERT_TRUE(acked.WaitUntil([&] { return done; }));
  EXPECT_TRUE(ok);
  ASSERT_TRUE(bus->Close().ok());
  auto transport = transport::CreateTransport(config_, 0);
  ASSERT_TRUE(transport.ok());
  Result<transport::TopicInfo> info = (*transport)->DescribeTopic(topic);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_NE(info->retention.find("2h"), std::string::npos) << info->retention;
}

TEST_F(NatsTopicsTest, EphemeralTopicIsCoreNatsAndAtMostOnce) {
  const std::string topic = unique_ + "-alerts";
  CheckEphemeralTopic(config_, topic);
  // Nothing stored it: no stream was made for the topic.
  auto transport = transport::CreateTransport(config_, 0);
  ASSERT_TRUE(transport.ok());
  Result<transport::TopicInfo> info = (*transport)->DescribeTopic(topic);
  EXPECT_EQ(info.status().code(), ErrorCode::kNotFound) << info.status().ToString();
}

// JetStream de-duplicates by event id within nats.duplicate_window. A dead
// letter is one event read at one place: the same event dead-lettered again
// after a replay (read at a new offset) is stored again; a retried
// dead-letter publish of the same delivery is not stored twice.
TEST_F(NatsTopicsTest, ADeadLetterIsDeduplicatedPerDeliveryNotPerEvent) {
  const std::string dlq = unique_ + "-orders.dlq";
  std::unique_ptr<EventBus> bus = NewBus(config_);
  ASSERT_NE(bus, nullptr);
  Signal signal;
  int received = 0;
  bool last_seen = false;  // the offset-9 dead letter, stored last
  ASSERT_OK(bus->Subscribe(dlq, [&](const Record& r, const Delivery&) {
    signal.Update([&] {
      ++received;
      last_seen = last_seen || FindHeader(r.headers, "X-Original-Offset") == "9";
    });
    return Status();
  }));
  ASSERT_OK(bus->Start());
  int acked = 0;
  for (const char* offset : {"5", "5", "9"}) {  // a publish retried, then a replay's failure
    Record r{dlq, "order-1", {}, R"({"x":1})"};
    r.headers = {{"X-Event-ID", "event-1"},
                 {"X-Original-Topic", unique_ + "-orders"},
                 {"X-Original-Partition", "0"},
                 {"X-Original-Offset", offset}};
    ASSERT_OK(bus->Publish(std::move(r), [&](const PublishResult& res) {
      EXPECT_TRUE(res.status.ok()) << res.status.ToString();
      signal.Update([&] { ++acked; });
    }));
    ASSERT_TRUE(signal.WaitUntil([&] { return acked > 0; }));  // in order
    signal.Update([&] { --acked; });
  }
  EXPECT_TRUE(signal.WaitUntil([&] { return last_seen; }));
  ASSERT_TRUE(bus->Close().ok());
  EXPECT_EQ(received, 2);
}

}  // namespace
}  // namespace evbus::test
