// Per-topic settings (Config::topics, YAML `topics:`, EventBus::ConfigureTopic):
// loading and validation with errors that name the path, and their effect on
// the memory broker, ephemeral topics included.

#include "ephemeral_support.h"
#include "test_support.h"
#include "transport/memory/memory_broker.h"
#include "transport/memory/memory_transport.h"
#include "transport/transport.h"

namespace evbus::test {
namespace {

constexpr char kTopicsYaml[] = R"(
topics:
  orders:
    persistence: persistent
    partitions: 3
    replication: 1
    format: cloudevents_binary
    payload_format: base64
    ordering: per_partition
  alerts.v1:
    persistence: ephemeral
  plain:
)";

TEST(TopicSettingsConfig, LoadsEveryKeyOfATopic) {
  Result<Config> c = LoadConfigString(kTopicsYaml);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(c->topics.size(), 3u);
  const TopicConfig& orders = c->topics.at("orders");
  EXPECT_EQ(orders.persistence, Persistence::kPersistent);
  EXPECT_EQ(orders.partitions, 3);
  EXPECT_EQ(orders.replication, 1);
  EXPECT_EQ(orders.format, EventFormat::kCloudEventsBinary);
  EXPECT_EQ(orders.payload_format, PayloadFormat::kBase64);
  EXPECT_EQ(orders.ordering, Ordering::kPerPartition);
  EXPECT_EQ(c->topics.at("alerts.v1").persistence, Persistence::kEphemeral);
  EXPECT_EQ(c->topics.at("plain"), TopicConfig());  // a name alone takes the defaults
  EXPECT_FALSE(c->topics.at("plain").ordering.has_value());
}

TEST(TopicSettingsConfig, TheEffectiveConfigLoadsBackToTheSameTopics) {
  Result<Config> c = LoadConfigString(kTopicsYaml);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  c->transport = TransportKind::kKafka;  // the memory broker keeps no time-based retention
  c->kafka.brokers = {"127.0.0.1:9092"};
  c->topics["kept"].retention = std::chrono::hours(36);
  const std::string yaml = FormatConfigYaml(*c);
  Result<Config> again = LoadConfigString(yaml);
  ASSERT_TRUE(again.ok()) << again.status().ToString() << "\n" << yaml;
  EXPECT_EQ(again->topics, c->topics) << yaml;
}

TEST(TopicSettingsConfig, ErrorsNameThePathAndTheValue) {
  struct Case {
    const char* yaml;
    const char* message;
  };
  const Case cases[] = {
      {"topics:\n  orders:\n    partitons: 3\n",
       "topics.orders.partitons: unknown key (a topic has persistence, partitions, retention, "
       "replication, format, payload_format, ordering)"},
      {"topics:\n  orders:\n    partitions: 20000\n",
       "topics.orders.partitions: 20000 is out of range [0, 10000]"},
      {"topics:\n  orders:\n    persistence: durable\n", "topics.orders.persistence: \"durable\""},
      {"topics:\n  orders:\n    retention: soon\n", "topics.orders.retention: \"soon\""},
      {"topics:\n  \"a b\":\n    partitions: 1\n", "topics.\"a b\": the name contains \" \""},
      {"topics:\n  orders: 3\n", "topics.orders: expected a mapping of settings"},
      {"topics: [orders]\n", "topics: expected a mapping of topic names to settings"},
      {"topics:\n  orders:\n    replication: 2\n",
       "topics.orders.replication: 2: the memory broker keeps one copy"},
      {"transport: nats\nnats:\n  urls: [nats://127.0.0.1:4222]\n"
       "topics:\n  alerts:\n    persistence: ephemeral\n    retention: 1h\n",
       "topics.alerts.retention: an ephemeral topic on NATS is Core NATS publish/subscribe"},
      {"transport: nats\nnats:\n  urls: [nats://127.0.0.1:4222]\n  partitions: 4\n"
       "topics:\n  orders:\n    partitions: 2\n",
       "topics.orders.partitions: 2: on NATS every topic has nats.partitions (4) partitions"},
  };
  for (const Case& c : cases) {
    Result<Config> loaded = LoadConfigString(c.yaml);
    ASSERT_FALSE(loaded.ok()) << c.yaml;
    EXPECT_EQ(loaded.status().code(), ErrorCode::kInvalidArgument) << c.yaml;
    EXPECT_NE(loaded.status().message().find(c.message), std::string::npos)
        << c.yaml << "\n got: " << loaded.status().message();
  }
}

TEST(TopicSettingsConfig, TheKafkaTopicsExampleLoadsAsDocumented) {
  Result<Config> c = LoadConfigFile(EVBUS_SOURCE_DIR "/examples/kafka-topics.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->topics.at("orders").partitions, 12);
  EXPECT_EQ(c->topics.at("orders").retention, std::chrono::hours(168));
  EXPECT_EQ(c->topics.at("orders").format, EventFormat::kCloudEventsBinary);
  EXPECT_EQ(c->topics.at("price-ticks").persistence, Persistence::kEphemeral);
  EXPECT_EQ(c->topics.at("legacy-payments").payload_format, PayloadFormat::kBase64);
  EXPECT_EQ(c->topics.at("legacy-payments").ordering, Ordering::kPerPartition);
}

class TopicSettingsTest : public BusTest {
 protected:
  void TearDown() override { ExpectThreadsAtBaseline(); }
};

TEST_F(TopicSettingsTest, ConfigureTopicIsValidatedAndOnlyTakenBeforeStart) {
  Config config = MemoryConfig(UniqueName("topics-runtime"));
  auto bus = EventBus::Create(config);
  ASSERT_TRUE(bus.ok());
  TopicConfig bad;
  bad.partitions = -1;
  Status s = (*bus)->ConfigureTopic("orders", bad);
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(s.message().find("topics.orders.partitions: -1 is out of range"), std::string::npos)
      << s.ToString();

  ASSERT_OK((*bus)->ConfigureTopic("orders", TopicConfig{}));
  ASSERT_OK((*bus)->Subscribe("orders", [](const Record&, const Delivery&) { return Status(); }));
  s = (*bus)->ConfigureTopic("orders", TopicConfig{});
  EXPECT_EQ(s.code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("must come before Subscribe(orders)"), std::string::npos)
      << s.ToString();
  ASSERT_OK((*bus)->Start());
  s = (*bus)->ConfigureTopic("other", TopicConfig{});
  EXPECT_EQ(s.code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("must come before Start()"), std::string::npos) << s.ToString();
  ASSERT_TRUE((*bus)->Close().ok());
}

TEST_F(TopicSettingsTest, TopicsAreCreatedWithTheirOwnPartitionCount) {
  Config config = MemoryConfig(UniqueName("topics-partitions"));
  config.memory.partitions = 4;
  TopicConfig three;
  three.partitions = 3;
  config.topics["orders"] = three;
  auto keeper = transport::NewMemoryTransport(config);  // keeps the named broker
  auto bus = EventBus::Create(config);
  ASSERT_TRUE(bus.ok());
  TopicConfig two;
  two.partitions = 2;
  ASSERT_OK((*bus)->ConfigureTopic("payments", two));  // at run time
  ASSERT_OK((*bus)->Subscribe("orders", [](const Record&, const Delivery&) { return Status(); }));
  ASSERT_OK((*bus)->Start());
  ASSERT_OK((*bus)->Publish(Record{"payments", "k", {}, "x"}));
  ASSERT_TRUE((*bus)->Close().ok());
  auto partitions = [&](const std::string& topic) {
    Result<transport::TopicInfo> info = keeper->DescribeTopic(topic);
    return info.ok() ? info->partitions : -1;
  };
  EXPECT_EQ(partitions("orders"), 3);
  EXPECT_EQ(partitions("orders.dlq"), 4);  // no settings of its own: memory.partitions
  EXPECT_EQ(partitions("payments"), 2);

  // A topic that exists with another count is reported against its own setting.
  Config eight = config;
  eight.topic_strategy = TopicStrategy::kValidateOnly;
  eight.topics["orders"].partitions = 8;
  auto again = EventBus::Create(eight);
  ASSERT_TRUE(again.ok());
  ASSERT_OK((*again)->Subscribe("orders", [](const Record&, const Delivery&) { return Status(); }));
  Status s = (*again)->Start();
  EXPECT_EQ(s.code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("memory topic orders has 3 partitions, expected 8 "
                             "(topics.orders.partitions)"),
            std::string::npos)
      << s.ToString();
  ASSERT_TRUE((*again)->Close().ok());
}

TEST_F(TopicSettingsTest, PayloadFormatAndOrderingDefaultsComeFromTheTopic) {
  Config config = MemoryConfig(UniqueName("topics-defaults"));
  TopicConfig b64;
  b64.payload_format = PayloadFormat::kBase64;
  config.topics["legacy"] = b64;
  auto bus = EventBus::Create(config);
  ASSERT_TRUE(bus.ok());
  Signal got;
  std::string payload;
  ASSERT_OK((*bus)->Subscribe("legacy", [&](const Record& r, const Delivery&) {
    got.Update([&] { payload = r.payload; });
    return Status();
  }));
  ASSERT_OK((*bus)->Start());
  ASSERT_OK((*bus)->PublishEnvelope("legacy", NewEnvelope("order-1", "Created", 1, R"({"a":1})")));
  ASSERT_TRUE(got.WaitUntil([&] { return !payload.empty(); }));
  // The topic's payload_format, not publisher.payload_format (raw_json).
  EXPECT_NE(payload.find(R"("payload":"eyJhIjoxfQ==")"), std::string::npos) << payload;
  ASSERT_TRUE((*bus)->Close().ok());
}

TEST_F(TopicSettingsTest, EphemeralTopicOnMemoryIsAtMostOnceAndNeverCommitted) {
  Config config = MemoryConfig(UniqueName("topics-ephemeral"));
  auto keeper = transport::NewMemoryTransport(config);  // keeps the named broker
  CheckEphemeralTopic(config, "alerts");
  // The group read the topic and committed nothing.
  auto broker = transport::MemoryBroker::Named(config.memory.broker, {});
  for (int32_t p = 0; p < config.memory.partitions; ++p) {
    EXPECT_EQ(broker->Committed(config.subscriber.group, {"alerts", p}), -1) << p;
  }
}

}  // namespace
}  // namespace evbus::test
