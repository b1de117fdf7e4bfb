#include "transport/kafka/kafka_topic_tools.h"

#include <algorithm>
#include <array>
#include <chrono>

namespace evbus::transport::kafka {
namespace {

constexpr int kRequestTimeoutMs = 10'000;
// A read that gets nothing for this long before reaching a partition's end
// gives up (the broker went away, or the partition has no leader).
constexpr auto kIdleLimit = std::chrono::seconds(30);

struct Watermarks {
  int32_t partition = 0;
  int64_t low = 0;
  int64_t high = 0;
};

// Each partition of `topic` with its watermarks now. Asking for every
// topic's metadata never auto-creates one. Errors: NotFound, Unavailable.
Result<std::vector<Watermarks>> PartitionsOf(rd_kafka_t* rk, const std::string& topic) {
  const rd_kafka_metadata_t* md = nullptr;
  if (rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, nullptr, &md, kRequestTimeoutMs);
      err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return FromKafka(err, "kafka metadata");
  }
  std::vector<Watermarks> out;
  bool found = false;
  for (int t = 0; t < md->topic_cnt && !found; ++t) {
    const rd_kafka_metadata_topic_t& mt = md->topics[t];
    if (topic != mt.topic || mt.err != RD_KAFKA_RESP_ERR_NO_ERROR) continue;
    found = true;
    for (int p = 0; p < mt.partition_cnt; ++p) out.push_back({mt.partitions[p].id, 0, 0});
  }
  rd_kafka_metadata_destroy(md);
  if (!found) return NotFound("kafka topic " + topic + " does not exist");
  std::sort(out.begin(), out.end(),
            [](const Watermarks& a, const Watermarks& b) { return a.partition < b.partition; });
  for (Watermarks& w : out) {
    if (rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
            rk, topic.c_str(), w.partition, &w.low, &w.high, kRequestTimeoutMs);
        err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return FromKafka(err,
                       "kafka watermarks of " + topic + "[" + std::to_string(w.partition) + "]");
    }
  }
  return out;
}

struct TopicDeleter {
  void operator()(rd_kafka_topic_t* t) const { rd_kafka_topic_destroy(t); }
};

// Reads partition w.partition, started at w.low, up to w.high (exclusive).
// Sets `stopped` when the visitor asked to stop.
Status ReadPartition(rd_kafka_topic_t* rkt, const std::string& topic, const Watermarks& w,
                     int64_t total, const TopicVisitor& visit, bool& stopped) {
  const std::string where = "kafka " + topic + "[" + std::to_string(w.partition) + "]";
  Status result;
  Record record;
  std::array<rd_kafka_message_t*, 256> batch;
  auto last_progress = std::chrono::steady_clock::now();
  bool done = false;
  while (!done && result.ok()) {
    // The first message alone waits (a batch call waits for the whole
    // batch); what is already fetched follows in one batch call.
    ssize_t n = 0;
    if (rd_kafka_message_t* first = rd_kafka_consume(rkt, w.partition, 500)) {
      batch[0] = first;
      n = 1 + std::max<ssize_t>(0, rd_kafka_consume_batch(rkt, w.partition, 0, batch.data() + 1,
                                                          batch.size() - 1));
    } else if (rd_kafka_resp_err_t err = rd_kafka_last_error();
               err != RD_KAFKA_RESP_ERR__TIMED_OUT && err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      result = FromKafka(err, where);
      break;
    }
    if (n == 0 && std::chrono::steady_clock::now() - last_progress >= kIdleLimit) {
      result = Status(ErrorCode::kTimeout,
                      where + ": nothing read for 30 s before the end (high watermark " +
                          std::to_string(w.high) + ")");
    }
    for (ssize_t i = 0; i < n; ++i) {
      MessagePtr msg(batch[static_cast<size_t>(i)]);
      if (done || !result.ok()) continue;  // destroys the rest of the batch
      last_progress = std::chrono::steady_clock::now();
      if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {  // caught up: markers end the log
        done = true;
      } else if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        result = FromKafka(msg->err, where + " at offset " + std::to_string(msg->offset));
      } else if (msg->offset >= w.high) {  // appended after the start
        done = true;
      } else {
        FillRecord(*msg, record);
        if (!visit(record, total)) {
          stopped = done = true;
        } else if (msg->offset + 1 >= w.high) {
          done = true;
        }
      }
    }
  }
  return result;
}

}  // namespace

Status ReadWholeTopic(const Config& config, KafkaShared* shared, uint64_t bus_id,
                      const std::string& topic, const TopicVisitor& visit) {
  Config c = config;
  c.kafka.group_instance_id.clear();  // meaningless without a group
  Result<Handle> handle =
      NewHandle(c, Role::kConsumer, shared, bus_id, nullptr, [](rd_kafka_conf_t* conf) {
        char err[512];
        // No group: the simple consumer reads by offset, commits nothing
        // and joins nothing.
        // Every partition is started at once but read one after another: a
        // small prefetch per partition keeps a wide topic's read in bounds.
        if (rd_kafka_conf_set(conf, "group.id", "", err, sizeof(err)) != RD_KAFKA_CONF_OK ||
            rd_kafka_conf_set(conf, "enable.partition.eof", "true", err, sizeof(err)) !=
                RD_KAFKA_CONF_OK ||
            rd_kafka_conf_set(conf, "queued.max.messages.kbytes", "2048", err, sizeof(err)) !=
                RD_KAFKA_CONF_OK ||
            rd_kafka_conf_set(conf, "queued.min.messages", "1000", err, sizeof(err)) !=
                RD_KAFKA_CONF_OK) {
          return Status(ErrorCode::kInternal, std::string("kafka topic reader: ") + err);
        }
        return Status();
      });
  if (!handle.ok()) return handle.status();
  Result<std::vector<Watermarks>> partitions = PartitionsOf(handle->get(), topic);
  if (!partitions.ok()) return partitions.status();
  int64_t total = 0;
  for (const Watermarks& w : *partitions) total += w.high - w.low;
  std::unique_ptr<rd_kafka_topic_t, TopicDeleter> rkt(
      rd_kafka_topic_new(handle->get(), topic.c_str(), nullptr));
  if (!rkt) return FromKafka(rd_kafka_last_error(), "kafka topic " + topic);
  // Every partition is started at once, so their first fetches overlap
  // (each takes a fetcher round trip); they are read one after the other.
  std::vector<int32_t> started;
  Status result;
  for (const Watermarks& w : *partitions) {
    if (w.high <= w.low) continue;
    if (rd_kafka_consume_start(rkt.get(), w.partition, w.low) != 0) {
      result = FromKafka(rd_kafka_last_error(),
                         "kafka " + topic + "[" + std::to_string(w.partition) + "]: start reading");
      break;
    }
    started.push_back(w.partition);
  }
  bool stopped = false;
  for (const Watermarks& w : *partitions) {
    if (!result.ok() || stopped) break;
    if (w.high <= w.low) continue;
    result = ReadPartition(rkt.get(), topic, w, total, visit, stopped);
  }
  for (int32_t p : started) rd_kafka_consume_stop(rkt.get(), p);
  return result;
}

Result<int64_t> DeleteTopicRecords(const Config& config, KafkaShared* shared, uint64_t bus_id,
                                   const std::string& topic) {
  Result<Handle> handle = NewHandle(config, Role::kAdmin, shared, bus_id);
  if (!handle.ok()) return handle.status();
  rd_kafka_t* rk = handle->get();
  Result<std::vector<Watermarks>> partitions = PartitionsOf(rk, topic);
  if (!partitions.ok()) return partitions.status();
  ListPtr before(rd_kafka_topic_partition_list_new(static_cast<int>(partitions->size())));
  int64_t present = 0;
  for (const Watermarks& w : *partitions) {
    if (w.high <= w.low) continue;
    rd_kafka_topic_partition_list_add(before.get(), topic.c_str(), w.partition)->offset = w.high;
    present += w.high - w.low;
  }
  if (before->cnt == 0) return int64_t{0};
  rd_kafka_DeleteRecords_t* request = rd_kafka_DeleteRecords_new(before.get());
  rd_kafka_AdminOptions_t* options = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DELETERECORDS);
  char err[512];
  rd_kafka_AdminOptions_set_request_timeout(options, kRequestTimeoutMs, err, sizeof(err));
  rd_kafka_AdminOptions_set_operation_timeout(options, kRequestTimeoutMs, err, sizeof(err));
  QueuePtr queue(rd_kafka_queue_new(rk));
  rd_kafka_DeleteRecords(rk, &request, 1, options, queue.get());
  rd_kafka_AdminOptions_destroy(options);
  rd_kafka_DeleteRecords_destroy(request);
  EventPtr event(rd_kafka_queue_poll(queue.get(), kRequestTimeoutMs + 5'000));
  if (!event)
    return Status(ErrorCode::kTimeout, "kafka delete records of " + topic + ": no answer");
  if (rd_kafka_event_error(event.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return FromKafka(rd_kafka_event_error(event.get()), "kafka delete records of " + topic);
  }
  const rd_kafka_topic_partition_list_t* after =
      rd_kafka_DeleteRecords_result_offsets(rd_kafka_event_DeleteRecords_result(event.get()));
  int64_t removed = 0;
  Status failed;
  for (int i = 0; after != nullptr && i < after->cnt; ++i) {
    const rd_kafka_topic_partition_t& p = after->elems[i];
    if (p.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (failed.ok()) {
        failed = FromKafka(
            p.err, "kafka delete records of " + topic + "[" + std::to_string(p.partition) + "]");
      }
      continue;
    }
    for (const Watermarks& w : *partitions) {
      if (w.partition == p.partition) removed += std::max<int64_t>(0, p.offset - w.low);
    }
  }
  if (!failed.ok()) {
    return Status(failed.code(), failed.message() + " (" + std::to_string(removed) + " of " +
                                     std::to_string(present) + " records were deleted)");
  }
  return removed;
}

}  // namespace evbus::transport::kafka
