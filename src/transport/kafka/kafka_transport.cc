#include "transport/kafka/kafka_transport.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <thread>
#include <utility>
#include <vector>

#include "transport/kafka/kafka_common.h"
#include "transport/kafka/kafka_consumer.h"
#include "transport/kafka/kafka_producer.h"
#include "transport/kafka/kafka_topic_tools.h"

namespace evbus::transport {
namespace {

using kafka::EventPtr;
using kafka::Handle;
using kafka::KafkaShared;
using kafka::QueuePtr;

constexpr int kAdminTimeoutMs = 10'000;

class KafkaTransport final : public Transport {
 public:
  KafkaTransport(const Config& config, uint64_t bus_id) : config_(config), bus_id_(bus_id) {}

  std::string_view name() const override { return "kafka"; }
  void SetErrorSink(ErrorSink sink) override { shared_.sink = std::move(sink); }
  void SetConnectionSink(ConnectionSink sink) override {
    shared_.connection_sink = std::move(sink);
  }
  bool connected() const override { return shared_.connected.load(); }

  // The first publish to a topic may wait for the broker up to publisher.timeout.
  kafka::EnsureTopicFn EnsureTopicFn() {
    const int wait_ms = static_cast<int>(std::clamp<int64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(config_.publisher.timeout).count(), 1,
        kAdminTimeoutMs));
    return [this, wait_ms](const std::string& topic) { return EnsureTopicWithin(topic, wait_ms); };
  }

  Result<std::unique_ptr<Producer>> CreateProducer() override {
    auto p = kafka::KafkaProducer::Create(config_, &shared_, bus_id_, EnsureTopicFn());
    if (!p.ok()) return p.status();
    return std::unique_ptr<Producer>(std::move(p).value());
  }

  Result<std::unique_ptr<Consumer>> CreateConsumer(const std::string& group) override {
    Config c = config_;
    c.subscriber.group = group;
    auto consumer = kafka::KafkaConsumer::Create(c, &shared_, bus_id_, topics());
    if (!consumer.ok()) return consumer.status();
    return std::unique_ptr<Consumer>(std::move(consumer).value());
  }

  Status EnsureTopic(const std::string& topic) override {
    return EnsureTopicWithin(topic, kAdminTimeoutMs);
  }

  // EnsureTopic, each broker request waiting at most `timeout_ms`.
  Status EnsureTopicWithin(const std::string& topic, int timeout_ms) {
    if (config_.topic_strategy == TopicStrategy::kSkip) return Status();
    // A short-lived handle: its threads are gone again before this returns.
    Result<Handle> admin = NewAdmin();
    if (!admin.ok()) return admin.status();
    Result<int32_t> partitions = PartitionsOf(admin->get(), topic, timeout_ms);
    if (partitions.ok()) {
      const bool own = topics()->Get(topic).partitions > 0;
      return CheckTopicPartitions(
          "kafka", topic, *partitions, PartitionsFor(topic),
          own ? "topics." + topic + ".partitions" : "kafka.topic_partitions",
          config_.topic_strategy);
    }
    if (partitions.status().code() != ErrorCode::kNotFound) return partitions.status();
    if (config_.topic_strategy == TopicStrategy::kValidateOnly) {
      return NotFound("kafka topic " + topic +
                      " does not exist (topic_strategy validate_only: create it first)");
    }
    if (Status s = Create(admin->get(), topic, timeout_ms); !s.ok()) return s;
    // Wait until the new topic is in the metadata every client will see.
    Result<bool> listed =
        AwaitTopics(admin->get(), timeout_ms, [&](const TopicInfo& t) { return t.name == topic; });
    if (!listed.ok()) return listed.status();
    return *listed ? Status() : NotFound("kafka topic " + topic + " does not exist");
  }

  Result<TopicInfo> DescribeTopic(const std::string& topic) override {
    Result<Handle> admin = NewAdmin();
    if (!admin.ok()) return admin.status();
    Result<std::vector<TopicInfo>> all = AllTopics(admin->get());
    if (!all.ok()) return all.status();
    for (TopicInfo& t : *all) {
      if (t.name == topic) return std::move(t);
    }
    return NotFound("kafka topic " + topic + " does not exist");
  }

  Status ReadTopic(const std::string& topic, const TopicVisitor& visit) override {
    return kafka::ReadWholeTopic(config_, &shared_, bus_id_, topic, visit);
  }
  Result<int64_t> PurgeTopic(const std::string& topic) override {
    return kafka::DeleteTopicRecords(config_, &shared_, bus_id_, topic);
  }

  Status DeleteTopics(const std::vector<std::string>& topics) override {
    if (topics.empty()) return Status();
    Result<Handle> admin = NewAdmin();
    if (!admin.ok()) return admin.status();
    if (Status s = Delete(admin->get(), topics); !s.ok()) return s;
    // Wait until none of `topics` is in the metadata, as EnsureTopic waits
    // for a new one to appear: a run that creates the same name next must not
    // find the old topic still listed.
    Result<bool> gone = AwaitTopics(
        admin->get(), kAdminTimeoutMs,
        [&](const TopicInfo& t) {
          return std::find(topics.begin(), topics.end(), t.name) != topics.end();
        },
        /*present=*/false);
    if (!gone.ok()) return gone.status();
    if (*gone) return Status();
    return Status(ErrorCode::kTimeout, "kafka delete topics: still listed after " +
                                           std::to_string(kAdminTimeoutMs) + " ms");
  }

  // Kafka's own internal topics (__consumer_offsets, ...) are left out.
  Result<std::vector<TopicInfo>> ListTopics() override {
    Result<Handle> admin = NewAdmin();
    if (!admin.ok()) return admin.status();
    Result<std::vector<TopicInfo>> all = AllTopics(admin->get());
    if (!all.ok()) return all.status();
    std::erase_if(*all, [](const TopicInfo& t) { return t.name.rfind("__", 0) == 0; });
    return all;
  }

 private:
  Result<Handle> NewAdmin() {
    return kafka::NewHandle(config_, kafka::Role::kAdmin, &shared_, bus_id_);
  }

  // Every topic in the cluster's metadata with its partition count, sorted
  // (asking for all topics never auto-creates one). Errors: Unavailable.
  Result<std::vector<TopicInfo>> AllTopics(rd_kafka_t* rk, int timeout_ms = kAdminTimeoutMs) {
    const rd_kafka_metadata_t* md = nullptr;
    const rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, nullptr, &md, timeout_ms);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return kafka::FromKafka(err, "kafka metadata");
    std::vector<TopicInfo> out;
    for (int i = 0; i < md->topic_cnt; ++i) {
      const rd_kafka_metadata_topic_t& t = md->topics[i];
      if (t.err == RD_KAFKA_RESP_ERR_NO_ERROR && t.partition_cnt > 0) {
        TopicInfo info;
        info.name = t.topic;
        info.partitions = static_cast<int32_t>(t.partition_cnt);
        for (int p = 0; p < t.partition_cnt; ++p)
          info.placement.push_back(Placement(t.partitions[p]));
        std::sort(info.placement.begin(), info.placement.end(),
                  [](const PartitionPlacement& a, const PartitionPlacement& b) {
                    return a.partition < b.partition;
                  });
        out.push_back(std::move(info));
      }
    }
    rd_kafka_metadata_destroy(md);
    std::sort(out.begin(), out.end(),
              [](const TopicInfo& a, const TopicInfo& b) { return a.name < b.name; });
    return out;
  }

  // Brokers by node id; a leader of -1 (none elected) is left empty.
  static PartitionPlacement Placement(const rd_kafka_metadata_partition_t& p) {
    PartitionPlacement out;
    out.partition = p.id;
    if (p.leader >= 0) out.leader = std::to_string(p.leader);
    for (int i = 0; i < p.replica_cnt; ++i) out.replicas.push_back(std::to_string(p.replicas[i]));
    for (int i = 0; i < p.isr_cnt; ++i) out.in_sync.push_back(std::to_string(p.isrs[i]));
    return out;
  }

  // Asks the cluster's metadata every 20 ms, for at most `timeout_ms`, until
  // a topic matching `match` is listed (present) or none is (!present): the
  // broker has no event to wait on. False when the time ran out.
  // Errors: Unavailable.
  Result<bool> AwaitTopics(rd_kafka_t* rk, int timeout_ms,
                           const std::function<bool(const TopicInfo&)>& match,
                           bool present = true) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      Result<std::vector<TopicInfo>> all = AllTopics(rk, timeout_ms);
      if (!all.ok()) return all.status();
      if (std::any_of(all->begin(), all->end(), match) == present) return true;
      if (Clock::now() >= deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling the broker's metadata
    }
  }

  // The partition count of `topic`. Errors: NotFound, Unavailable.
  Result<int32_t> PartitionsOf(rd_kafka_t* rk, const std::string& topic,
                               int timeout_ms = kAdminTimeoutMs) {
    Result<std::vector<TopicInfo>> all = AllTopics(rk, timeout_ms);
    if (!all.ok()) return all.status();
    for (const TopicInfo& t : *all) {
      if (t.name == topic) return t.partitions;
    }
    return NotFound("kafka topic " + topic + " does not exist");
  }

  // The topic's own count (topics.<name>.partitions), else kafka.topic_partitions.
  int32_t PartitionsFor(const std::string& topic) const {
    const int own = topics()->Get(topic).partitions;
    return own > 0 ? own : config_.kafka.topic_partitions;
  }

  Status Create(rd_kafka_t* rk, const std::string& topic, int timeout_ms) {
    const TopicConfig& settings = topics()->Get(topic);
    const int replication =
        settings.replication > 0 ? settings.replication : config_.kafka.replication_factor;
    char err[512];
    rd_kafka_NewTopic_t* nt =
        rd_kafka_NewTopic_new(topic.c_str(), PartitionsFor(topic), replication, err, sizeof(err));
    if (nt == nullptr) return InvalidArgument("kafka topic " + topic + ": " + err);
    std::vector<std::pair<std::string, std::string>> topic_config;
    if (config_.kafka.min_insync_replicas > 0) {
      topic_config.emplace_back("min.insync.replicas",
                                std::to_string(config_.kafka.min_insync_replicas));
    }
    if (settings.retention.count() > 0) {
      topic_config.emplace_back(
          "retention.ms",
          std::to_string(
              std::chrono::duration_cast<std::chrono::milliseconds>(settings.retention).count()));
    }
    for (const auto& [name, value] : topic_config) {
      if (rd_kafka_NewTopic_set_config(nt, name.c_str(), value.c_str()) !=
          RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_NewTopic_destroy(nt);
        return InvalidArgument("kafka topic " + topic + ": " + name + " " + value);
      }
    }
    QueuePtr queue(rd_kafka_queue_new(rk));
    rd_kafka_CreateTopics(rk, &nt, 1, nullptr, queue.get());
    rd_kafka_NewTopic_destroy(nt);
    Result<EventPtr> ev = AdminAnswer(queue.get(), timeout_ms, "kafka create topic " + topic);
    if (!ev.ok()) return ev.status();
    size_t n = 0;
    const rd_kafka_topic_result_t** results =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev->get()), &n);
    return TopicResults(results, n, "create", RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS);
  }

  // One DeleteTopics request for all of `topics`; a missing one is skipped.
  static Status Delete(rd_kafka_t* rk, const std::vector<std::string>& topics) {
    std::vector<rd_kafka_DeleteTopic_t*> doomed;
    for (const std::string& t : topics) doomed.push_back(rd_kafka_DeleteTopic_new(t.c_str()));
    QueuePtr queue(rd_kafka_queue_new(rk));
    rd_kafka_DeleteTopics(rk, doomed.data(), doomed.size(), nullptr, queue.get());
    rd_kafka_DeleteTopic_destroy_array(doomed.data(), doomed.size());
    Result<EventPtr> ev = AdminAnswer(queue.get(), kAdminTimeoutMs, "kafka delete topics");
    if (!ev.ok()) return ev.status();
    size_t n = 0;
    const rd_kafka_topic_result_t** results =
        rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev->get()), &n);
    return TopicResults(results, n, "delete", RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
  }

  // The answer to an admin request sent with `queue`. Errors: Timeout (none
  // within `timeout_ms`), the request's own error, named `what`.
  static Result<EventPtr> AdminAnswer(rd_kafka_queue_t* queue, int timeout_ms,
                                      const std::string& what) {
    EventPtr ev(rd_kafka_queue_poll(queue, timeout_ms));
    if (!ev) return Status(ErrorCode::kTimeout, what + ": no answer");
    if (rd_kafka_event_error(ev.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return kafka::FromKafka(rd_kafka_event_error(ev.get()), what);
    }
    return ev;
  }

  // The first topic in an admin answer that failed with other than
  // `expected` (already there on create, already gone on delete), as
  // "kafka <verb> topic <name>: <why>".
  static Status TopicResults(const rd_kafka_topic_result_t** results, size_t n, const char* verb,
                             rd_kafka_resp_err_t expected) {
    for (size_t i = 0; i < n; ++i) {
      const rd_kafka_resp_err_t e = rd_kafka_topic_result_error(results[i]);
      if (e != RD_KAFKA_RESP_ERR_NO_ERROR && e != expected) {
        const char* why = rd_kafka_topic_result_error_string(results[i]);
        return kafka::FromKafka(e, std::string("kafka ") + verb + " topic " +
                                       rd_kafka_topic_result_name(results[i]) +
                                       (why ? std::string(": ") + why : ""));
      }
    }
    return Status();
  }

  const Config config_;
  const uint64_t bus_id_;
  KafkaShared shared_;
};

}  // namespace

Result<std::unique_ptr<Transport>> NewKafkaTransport(const Config& config, uint64_t bus_id) {
  return std::unique_ptr<Transport>(new KafkaTransport(config, bus_id));
}

}  // namespace evbus::transport
