// Kafka faults injected with librdkafka's mock cluster (in addition to the
// real broker, never instead of it: DESIGN §7): a fatal producer error.

#ifdef EVBUS_WITH_KAFKA

#include <librdkafka/rdkafka.h>
// after rdkafka.h, which it needs
#include <librdkafka/rdkafka_mock.h>

#include "kafka_support.h"

namespace evbus::test {
namespace {

constexpr int16_t kInitProducerIdApiKey = 22;  // the Kafka protocol's ApiKey

// An in-process mock cluster, owned by a client handle of its own.
class MockCluster {
 public:
  explicit MockCluster(int brokers) {
    char err[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "0", err, sizeof(err));
    owner_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    cluster_ = rd_kafka_mock_cluster_new(owner_, brokers);
  }
  ~MockCluster() {
    rd_kafka_mock_cluster_destroy(cluster_);
    rd_kafka_destroy(owner_);
  }
  rd_kafka_mock_cluster_t* get() { return cluster_; }
  std::string bootstraps() { return rd_kafka_mock_cluster_bootstraps(cluster_); }

 private:
  rd_kafka_t* owner_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
};

class KafkaFaultTest : public ServerTest {
 protected:
  KafkaFaultTest()
      : ServerTest(
            "kafka", [] { return std::string(); }, KafkaConfig) {}
};

// A fatal idempotent-producer error (here: no producer id granted): the cause reaches the error
// callback, later publishes fail with it, health says why, and close still completes.
TEST_F(KafkaFaultTest, FatalProducerErrorFailsPublishesWithTheCause) {
  {
    MockCluster cluster(1);
    rd_kafka_mock_topic_create(cluster.get(), "fenced", 1, 1);
    // The idempotent producer's first request (for its producer id) is refused:
    // fatal, as for a fenced producer.
    rd_kafka_mock_push_request_errors(cluster.get(), kInitProducerIdApiKey, 1,
                                      RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED);
    Config config = config_;
    config.kafka.brokers = {cluster.bootstraps()};
    config.topic_strategy = TopicStrategy::kSkip;
    auto bus = NewBus(config);
    ASSERT_NE(bus, nullptr);
    Signal signal;
    std::vector<Status> errors;
    ASSERT_OK(bus->SetErrorCallback(
        [&](const Status& s) { signal.Update([&] { errors.push_back(s); }); }));
    Signal done;
    std::optional<Status> completion;
    Record r;
    r.topic = "fenced";
    r.key = "k";
    r.payload = "{}";
    // The error may come before the publish is accepted (it is then refused
    // with the cause) or after (its completion carries the cause).
    const Status published = bus->Publish(
        r, [&](const PublishResult& result) { done.Update([&] { completion = result.status; }); });
    if (!published.ok()) {
      completion = published;
    } else {
      ASSERT_TRUE(done.WaitUntil([&] { return completion.has_value(); }, 30s));
    }
    EXPECT_EQ(completion->code(), ErrorCode::kFailedPrecondition) << completion->ToString();
    EXPECT_NE(completion->message().find("CLUSTER_AUTHORIZATION_FAILED"), std::string::npos)
        << completion->ToString();
    ASSERT_TRUE(signal.WaitUntil(
        [&] {
          for (const Status& s : errors) {
            if (s.message().find("fatal") != std::string::npos) return true;
          }
          return false;
        },
        30s));
    const Status again = bus->Publish(r);
    EXPECT_EQ(again.code(), ErrorCode::kFailedPrecondition) << again.ToString();
    EXPECT_NE(again.message().find("CLUSTER_AUTHORIZATION_FAILED"), std::string::npos)
        << again.ToString();
    EXPECT_FALSE(bus->health().healthy);
    Result<CloseReport> closed = bus->Close(std::chrono::seconds(5));
    ASSERT_TRUE(closed.ok()) << closed.status().ToString();
    EXPECT_EQ(closed->bus_threads_after_close, 0u);
  }
}

}  // namespace
}  // namespace evbus::test

#endif  // EVBUS_WITH_KAFKA
