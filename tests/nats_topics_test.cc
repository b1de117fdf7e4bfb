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

}  // namespace
}  // namespace evbus::test
