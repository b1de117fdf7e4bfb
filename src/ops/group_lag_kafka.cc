// A Kafka consumer group's lag straight from the brokers: committed offsets
// by OffsetFetch (a consumer handle with the group's id that never
// subscribes, so the group is not disturbed) or, when no topic is named, the
// admin ListConsumerGroupOffsets; high watermarks per partition.

#include <algorithm>

#include "ops/group_lag.h"
#include "transport/kafka/kafka_common.h"

namespace evbus::ops {
namespace {

namespace kafka = transport::kafka;

constexpr int kTimeoutMs = 10'000;

// Every partition `group` has committed offsets for, with those offsets.
Result<kafka::ListPtr> CommittedByGroup(rd_kafka_t* rk, const std::string& group) {
  kafka::QueuePtr queue(rd_kafka_queue_new(rk));
  rd_kafka_ListConsumerGroupOffsets_t* request =
      rd_kafka_ListConsumerGroupOffsets_new(group.c_str(), nullptr);
  rd_kafka_AdminOptions_t* options =
      rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS);
  rd_kafka_ListConsumerGroupOffsets(rk, &request, 1, options, queue.get());
  rd_kafka_AdminOptions_destroy(options);
  rd_kafka_ListConsumerGroupOffsets_destroy(request);
  kafka::EventPtr event(rd_kafka_queue_poll(queue.get(), kTimeoutMs));
  if (!event) return Status(ErrorCode::kUnavailable, "kafka list group offsets: timed out");
  if (rd_kafka_event_error(event.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return kafka::FromKafka(rd_kafka_event_error(event.get()),
                            std::string("kafka list offsets of group ") + group);
  }
  size_t n = 0;
  const rd_kafka_group_result_t** groups = rd_kafka_ListConsumerGroupOffsets_result_groups(
      rd_kafka_event_ListConsumerGroupOffsets_result(event.get()), &n);
  if (n == 0) return NotFound("kafka group " + group + ": no offsets");
  if (const rd_kafka_error_t* e = rd_kafka_group_result_error(groups[0])) {
    return kafka::FromKafka(rd_kafka_error_code(e), "kafka group " + group);
  }
  return kafka::ListPtr(
      rd_kafka_topic_partition_list_copy(rd_kafka_group_result_partitions(groups[0])));
}

// Every partition of `topics`, with the group's committed offsets.
Result<kafka::ListPtr> CommittedForTopics(rd_kafka_t* rk, const std::vector<std::string>& topics) {
  const rd_kafka_metadata_t* md = nullptr;
  const rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, nullptr, &md, kTimeoutMs);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return kafka::FromKafka(err, "kafka metadata");
  kafka::ListPtr list(rd_kafka_topic_partition_list_new(16));
  Status missing;
  for (const std::string& topic : topics) {
    bool found = false;
    for (int t = 0; t < md->topic_cnt; ++t) {
      if (topic != md->topics[t].topic || md->topics[t].err != RD_KAFKA_RESP_ERR_NO_ERROR) continue;
      found = true;
      for (int p = 0; p < md->topics[t].partition_cnt; ++p) {
        rd_kafka_topic_partition_list_add(list.get(), topic.c_str(),
                                          md->topics[t].partitions[p].id);
      }
    }
    if (!found && missing.ok()) missing = NotFound("kafka topic " + topic + " does not exist");
  }
  rd_kafka_metadata_destroy(md);
  if (!missing.ok()) return missing;
  if (rd_kafka_resp_err_t e = rd_kafka_committed(rk, list.get(), kTimeoutMs);
      e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return kafka::FromKafka(e, "kafka committed offsets");
  }
  return list;
}

}  // namespace

Result<std::vector<GroupPartitionLag>> ReadKafkaGroupLag(const Config& config,
                                                         const std::string& group,
                                                         const std::vector<std::string>& topics) {
  Config c = config;
  c.subscriber.group = group;
  kafka::KafkaShared shared;
  shared.sink = [](const Status&) {};  // failures come back from the calls below
  Result<kafka::Handle> handle = kafka::NewHandle(c, kafka::Role::kConsumer, &shared, 0);
  if (!handle.ok()) return handle.status();
  rd_kafka_t* rk = handle->get();
  Result<kafka::ListPtr> list =
      topics.empty() ? CommittedByGroup(rk, group) : CommittedForTopics(rk, topics);
  if (!list.ok()) return list.status();
  std::vector<GroupPartitionLag> out;
  for (int i = 0; i < (*list)->cnt; ++i) {
    const rd_kafka_topic_partition_t& e = (*list)->elems[i];
    int64_t low = 0;
    int64_t high = 0;
    if (rd_kafka_resp_err_t err =
            rd_kafka_query_watermark_offsets(rk, e.topic, e.partition, &low, &high, kTimeoutMs);
        err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return kafka::FromKafka(err, std::string("kafka watermarks of ") + e.topic);
    }
    GroupPartitionLag lag;
    lag.topic = e.topic;
    lag.partition = e.partition;
    lag.committed = e.offset >= 0 ? e.offset : -1;
    lag.log_end = high;
    lag.lag = std::max<int64_t>(0, high - std::max(lag.committed >= 0 ? lag.committed : low, low));
    out.push_back(std::move(lag));
  }
  return out;
}

}  // namespace evbus::ops
