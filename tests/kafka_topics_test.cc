// Per-topic settings on a real Kafka broker: partitions, replication and
// retention of the topics evbus creates, and ephemeral topics (read from the
// latest offset, never committed).

#include <librdkafka/rdkafka.h>

#include "ephemeral_support.h"
#include "kafka_support.h"

namespace evbus::test {
namespace {

class KafkaTopicsTest : public ServerTest {
 protected:
  KafkaTopicsTest() : ServerTest("ktopics", KafkaUnavailable, KafkaConfig) {}
};

// The value of topic config `name` of `topic`, as the broker describes it.
std::string TopicConfigValue(const std::string& topic, const std::string& name) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", Brokers().c_str(), err, sizeof(err));
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (rk == nullptr) return std::string("no client: ") + err;
  rd_kafka_ConfigResource_t* res =
      rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str());
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  rd_kafka_DescribeConfigs(rk, &res, 1, nullptr, q);
  std::string value = "no answer";
  if (rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 10000)) {
    size_t n = 0;
    const rd_kafka_ConfigResource_t** rs =
        rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev), &n);
    for (size_t i = 0; i < n; ++i) {
      size_t m = 0;
      const rd_kafka_ConfigEntry_t** entries = rd_kafka_ConfigResource_configs(rs[i], &m);
      for (size_t j = 0; j < m; ++j) {
        if (name == rd_kafka_ConfigEntry_name(entries[j])) {
          const char* v = rd_kafka_ConfigEntry_value(entries[j]);
          value = v != nullptr ? v : "";
        }
      }
    }
    rd_kafka_event_destroy(ev);
  }
  rd_kafka_queue_destroy(q);
  rd_kafka_ConfigResource_destroy(res);
  rd_kafka_destroy(rk);
  return value;
}

TEST_F(KafkaTopicsTest, CreatesATopicWithItsOwnPartitionsAndRetention) {
  const std::string topic = unique_ + "-orders";
  TopicConfig settings;
  settings.partitions = 3;
  settings.replication = 1;
  settings.retention = std::chrono::hours(2);
  config_.topics[topic] = settings;
  std::unique_ptr<EventBus> bus = NewBus(config_);
  ASSERT_NE(bus, nullptr);
  Signal acked;
  int32_t partition = -1;
  ASSERT_OK(bus->Publish(Record{topic, "k", {}, "x"}, [&](const PublishResult& r) {
    acked.Update([&] { partition = r.status.ok() ? r.partition : -2; });
  }));
  ASSERT_TRUE(acked.WaitUntil([&] { return partition != -1; }));
  ASSERT_TRUE(bus->Close().ok());
  EXPECT_GE(partition, 0);
  EXPECT_LT(partition, 3);
  EXPECT_EQ(TopicConfigValue(topic, "retention.ms"), "7200000");

  // The broker says 3 partitions; validate_only checks against the topic's own setting.
  Config check = config_;
  check.topic_strategy = TopicStrategy::kValidateOnly;
  check.topics[topic].partitions = 5;
  std::unique_ptr<EventBus> again = NewBus(check);
  ASSERT_NE(again, nullptr);
  ASSERT_OK(again->Subscribe(topic, [](const Record&, const Delivery&) { return Status(); }));
  Status s = again->Start();
  EXPECT_EQ(s.code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("has 3 partitions, expected 5 (topics." + topic + ".partitions)"),
            std::string::npos)
      << s.ToString();
  ASSERT_TRUE(again->Close().ok());
}

TEST_F(KafkaTopicsTest, EphemeralTopicIsReadFromTheLatestOffsetAndNeverCommitted) {
  CheckEphemeralTopic(config_, unique_ + "-alerts");
}

}  // namespace
}  // namespace evbus::test
