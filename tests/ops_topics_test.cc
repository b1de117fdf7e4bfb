// Topic assertions at Start(): each topic_strategy on the memory broker, with
// messages that say what differs; partitions are never added.

#include "test_support.h"
#include "transport/memory/memory_transport.h"
#include "transport/transport.h"

namespace evbus::test {
namespace {

class OpsTopicsTest : public BusTest {
 protected:
  void TearDown() override { ExpectThreadsAtBaseline(); }

  // Starts a bus subscribed to `topic`; returns what Start() said.
  static Status StartWith(const Config& config, const std::string& topic) {
    auto bus = EventBus::Create(config);
    if (!bus.ok()) return bus.status();
    Status s = (*bus)->Subscribe(topic, [](const Record&, const Delivery&) { return Status(); });
    if (s.ok()) s = (*bus)->Start();
    Result<CloseReport> closed = (*bus)->Close();
    EXPECT_TRUE(closed.ok());
    return s;
  }
  // Keeps the named memory broker alive between buses (it goes with its last user).
  void Keep(const Config& config) { keeper_ = transport::NewMemoryTransport(config); }
  int32_t PartitionsOf(const std::string& topic) {
    Result<transport::TopicInfo> info = keeper_->DescribeTopic(topic);
    return info.ok() ? info->partitions : -1;
  }
  std::unique_ptr<transport::Transport> keeper_;
};

TEST_F(OpsTopicsTest, ValidateOnlyFailsClearlyForAMissingTopic) {
  Config config = MemoryConfig(UniqueName("topics-missing"));
  config.topic_strategy = TopicStrategy::kValidateOnly;
  Keep(config);
  Status s = StartWith(config, "orders");
  EXPECT_EQ(s.code(), ErrorCode::kNotFound);
  EXPECT_NE(s.message().find("topic orders does not exist"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("validate_only"), std::string::npos) << s.ToString();
  EXPECT_EQ(PartitionsOf("orders"), -1);  // nothing was created
}

TEST_F(OpsTopicsTest, EachStrategyOnAPartitionMismatch) {
  Config four = MemoryConfig(UniqueName("topics-mismatch"));
  four.memory.partitions = 4;
  Keep(four);
  ASSERT_OK(StartWith(four, "orders"));  // create_if_missing: creates orders and orders.dlq
  ASSERT_EQ(PartitionsOf("orders"), 4);

  Config eight = four;
  eight.memory.partitions = 8;
  for (TopicStrategy strategy : {TopicStrategy::kValidateOnly, TopicStrategy::kCreateOrUpdate}) {
    eight.topic_strategy = strategy;
    Status s = StartWith(eight, "orders");
    EXPECT_EQ(s.code(), ErrorCode::kFailedPrecondition) << ToString(strategy);
    EXPECT_NE(s.message().find("memory topic orders has 4 partitions, expected 8 "
                               "(memory.partitions)"),
              std::string::npos)
        << s.ToString();
    EXPECT_NE(s.message().find(std::string(ToString(strategy))), std::string::npos);
  }
  // create_if_missing only creates; skip asserts nothing: both take the topic as it is.
  for (TopicStrategy strategy : {TopicStrategy::kCreateIfMissing, TopicStrategy::kSkip}) {
    eight.topic_strategy = strategy;
    Status s = StartWith(eight, "orders");
    EXPECT_TRUE(s.ok()) << ToString(strategy) << ": " << s.ToString();
  }
  EXPECT_EQ(PartitionsOf("orders"), 4);  // never grown
}

TEST_F(OpsTopicsTest, CreateOrUpdateCreatesWhatIsMissing) {
  Config config = MemoryConfig(UniqueName("topics-create"));
  config.topic_strategy = TopicStrategy::kCreateOrUpdate;
  config.memory.partitions = 3;
  Keep(config);
  ASSERT_OK(StartWith(config, "payments"));
  EXPECT_EQ(PartitionsOf("payments"), 3);
  EXPECT_EQ(PartitionsOf("payments.dlq"), 3);
  ASSERT_OK(StartWith(config, "payments"));  // matching: fine again
}

}  // namespace
}  // namespace evbus::test
