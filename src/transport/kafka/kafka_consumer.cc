#include "transport/kafka/kafka_consumer.h"

#include <algorithm>
#include <array>
#include <cstring>

namespace evbus::transport::kafka {
namespace {

std::vector<TopicPartition> ToVector(const rd_kafka_topic_partition_list_t* list) {
  std::vector<TopicPartition> out;
  for (int i = 0; i < list->cnt; ++i)
    out.push_back({list->elems[i].topic, list->elems[i].partition});
  return out;
}

ListPtr ToList(const std::vector<TopicPartition>& tps) {
  ListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(tps.size())));
  for (const TopicPartition& tp : tps) {
    rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(), tp.partition);
  }
  return list;
}

void OnRebalanceCb(rd_kafka_t*, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts,
                   void* opaque) {
  static_cast<KafkaConsumer*>(static_cast<HandleContext*>(opaque)->owner)->OnRebalance(err, parts);
}

void OnCommitCb(rd_kafka_t*, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t*,
                void* opaque) {
  // Asynchronous commits: report failures (the next frontier commit retries).
  auto* context = static_cast<HandleContext*>(opaque);
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    context->all_brokers_down.store(false, std::memory_order_relaxed);  // the coordinator answered
  } else if (err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
    context->shared->Report(FromKafka(err, "kafka offset commit"));
  }
}

}  // namespace

Result<std::unique_ptr<KafkaConsumer>> KafkaConsumer::Create(
    const Config& config, KafkaShared* shared, uint64_t bus_id,
    std::shared_ptr<const TopicTable> topics) {
  std::unique_ptr<KafkaConsumer> c(new KafkaConsumer(shared, std::move(topics)));
  Result<Handle> h =
      NewHandle(config, Role::kConsumer, shared, bus_id, c.get(), [](rd_kafka_conf_t* conf) {
        rd_kafka_conf_set_rebalance_cb(conf, OnRebalanceCb);
        rd_kafka_conf_set_offset_commit_cb(conf, OnCommitCb);
        return Status();
      });
  if (!h.ok()) return h.status();
  c->handle_ = std::move(h).value();
  rd_kafka_poll_set_consumer(c->handle_.get());  // one queue for messages and events
  c->queue_.reset(rd_kafka_queue_get_consumer(c->handle_.get()));
  return c;
}

Status KafkaConsumer::Subscribe(const std::vector<std::string>& topics,
                                RebalanceListener* listener) {
  listener_ = listener;
  ListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(topics.size())));
  for (const std::string& t : topics) {
    rd_kafka_topic_partition_list_add(list.get(), t.c_str(), RD_KAFKA_PARTITION_UA);
  }
  return FromKafka(rd_kafka_subscribe(handle_.get(), list.get()), "kafka subscribe");
}

void KafkaConsumer::OnRebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts) {
  rd_kafka_t* rk = handle_.get();
  const bool cooperative = std::strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
  const std::vector<TopicPartition> tps = ToVector(parts);
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    assignment_seen_ = true;
    // Ephemeral topics are read from now on, whatever the group committed.
    for (int i = 0; i < parts->cnt; ++i) {
      if (topics_->ephemeral(parts->elems[i].topic)) parts->elems[i].offset = RD_KAFKA_OFFSET_END;
    }
    if (listener_ != nullptr) listener_->OnAssigned(tps);
    if (cooperative) {
      rd_kafka_error_t* e = rd_kafka_incremental_assign(rk, parts);
      if (e != nullptr) rd_kafka_error_destroy(e);
    } else {
      rd_kafka_assign(rk, parts);
    }
    for (const TopicPartition& tp : tps) {
      Attach(tp);
      assigned_.push_back(tp);
    }
    return;
  }
  // A revoked partition's queue goes back to the consumer queue before
  // librdkafka stops it, so what it held is discarded there as outdated
  // (uncommitted, it is read again by the next owner).
  Reattach(&tps);
  if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
    // The core drains and commits these while they are still ours.
    if (listener_ != nullptr) listener_->OnRevoked(tps, rd_kafka_assignment_lost(rk) != 0);
  } else {
    shared_->Report(FromKafka(err, "kafka rebalance"));
  }
  if (cooperative) {
    rd_kafka_error_t* e = rd_kafka_incremental_unassign(rk, parts);
    if (e != nullptr) rd_kafka_error_destroy(e);
  } else {
    rd_kafka_assign(rk, nullptr);
  }
  for (const TopicPartition& tp : tps) {
    assigned_.erase(std::remove(assigned_.begin(), assigned_.end(), tp), assigned_.end());
  }
}

void KafkaConsumer::Recycle(std::vector<std::shared_ptr<Record>>& records) { spare_.Add(records); }

RecordPtr KafkaConsumer::ToRecord(const rd_kafka_message_t& msg) {
  std::shared_ptr<Record> r = spare_.Take();
  FillRecord(msg, *r);  // every field: a spare still holds its last record
  return r;
}

Status KafkaConsumer::Poll(std::vector<RecordPtr>& out, size_t max_records,
                           std::chrono::milliseconds timeout) {
  if (TakeHeld(out, max_records) || out.size() >= max_records) return Status();
  if (out.empty() && timeout.count() > 0) {
    // Wait for the first message alone: librdkafka's batch call waits until
    // it has the whole batch or the timeout passes, which under light load
    // added up to the whole poll timeout (subscriber.commit_interval) to
    // every message's latency.
    rd_kafka_message_t* first =
        rd_kafka_consume_queue(queue_.get(), static_cast<int>(timeout.count()));
    if (first == nullptr) return Status();  // timeout, or Wakeup()
    Take(MessagePtr(first), out);
  }
  // Then what is already fetched, a batch per call: one queue lock for many
  // messages, not one each.
  std::array<rd_kafka_message_t*, 256> batch;
  while (out.size() < max_records) {
    const size_t want = std::min(batch.size(), max_records - out.size());
    const ssize_t n = rd_kafka_consume_batch_queue(queue_.get(), 0, batch.data(), want);
    if (n <= 0) break;
    for (ssize_t i = 0; i < n; ++i) Take(MessagePtr(batch[static_cast<size_t>(i)]), out);
  }
  return Status();
}

void KafkaConsumer::Take(MessagePtr msg, std::vector<RecordPtr>& out) {
  if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) return;
  if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    shared_->Report(FromKafka(
        msg->err, std::string("kafka consume") +
                      (msg->rkt ? std::string(" from ") + rd_kafka_topic_name(msg->rkt) : "")));
    return;
  }
  shared_->MarkConnected();
  if (handle_.context()->all_brokers_down.load(std::memory_order_relaxed)) {
    handle_.context()->all_brokers_down.store(false, std::memory_order_relaxed);
  }
  if (!detached_.empty()) {
    TopicPartition tp{rd_kafka_topic_name(msg->rkt), msg->partition};
    if (detached_.count(tp) != 0) {
      held_[std::move(tp)].push_back(std::move(msg));
      return;
    }
  }
  out.push_back(ToRecord(*msg));
}

bool KafkaConsumer::TakeHeld(std::vector<RecordPtr>& out, size_t max_records) {
  bool remaining = false;
  for (auto it = held_.begin(); it != held_.end();) {
    if (detached_.count(it->first) != 0) {  // still paused
      ++it;
      continue;
    }
    std::deque<MessagePtr>& held = it->second;
    while (!held.empty() && out.size() < max_records) {
      out.push_back(ToRecord(*held.front()));
      held.pop_front();
    }
    if (held.empty()) {
      it = held_.erase(it);
    } else {
      remaining = true;
      ++it;
    }
  }
  return remaining;
}

void KafkaConsumer::Wakeup() {
  if (queue_) rd_kafka_queue_yield(queue_.get());
}

void KafkaConsumer::Pause(const TopicPartition& tp) {
  if (detached_.count(tp) != 0) return;
  QueuePtr own(rd_kafka_queue_get_partition(handle_.get(), tp.topic.c_str(), tp.partition));
  if (!own) return;  // not known to this client (no longer assigned)
  rd_kafka_queue_forward(own.get(), nullptr);
  detached_.emplace(tp, std::move(own));
}

void KafkaConsumer::Resume(const TopicPartition& tp) {
  auto it = detached_.find(tp);
  if (it == detached_.end()) return;
  rd_kafka_queue_forward(it->second.get(), queue_.get());  // moves what it holds, in order
  detached_.erase(it);
}

void KafkaConsumer::Attach(const TopicPartition& tp) {
  QueuePtr own(rd_kafka_queue_get_partition(handle_.get(), tp.topic.c_str(), tp.partition));
  if (own) rd_kafka_queue_forward(own.get(), queue_.get());
}

void KafkaConsumer::Reattach(const std::vector<TopicPartition>* tps) {
  if (tps == nullptr) {
    held_.clear();
  } else {
    for (const TopicPartition& tp : *tps) held_.erase(tp);
  }
  for (auto it = detached_.begin(); it != detached_.end();) {
    if (tps == nullptr || std::find(tps->begin(), tps->end(), it->first) != tps->end()) {
      rd_kafka_queue_forward(it->second.get(), queue_.get());
      it = detached_.erase(it);
    } else {
      ++it;
    }
  }
}

Status KafkaConsumer::Commit(const std::vector<CommitOffset>& offsets,
                             std::optional<Clock::time_point> wait_until) {
  ListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size())));
  for (const CommitOffset& c : offsets) {
    if (topics_->ephemeral(c.tp.topic)) continue;  // at-most-once: never committed
    rd_kafka_topic_partition_list_add(list.get(), c.tp.topic.c_str(), c.tp.partition)->offset =
        c.next_offset;
  }
  if (list->cnt == 0) return Status();
  if (!wait_until) return FromKafka(rd_kafka_commit(handle_.get(), list.get(), 1), "kafka commit");
  // librdkafka keeps a commit it cannot send waiting for the coordinator, and
  // rd_kafka_destroy waits for such commits up to the session timeout: with
  // every broker down, a waited commit is not sent at all.
  if (BrokersDown()) {
    return Status(ErrorCode::kUnavailable, "kafka commit not sent: every broker is down");
  }
  // rd_kafka_commit(sync) waits for the answer without a bound, and with the
  // broker gone that is until it is back. The result comes to a queue of
  // this call's own instead, read until wait_until; an answer after that
  // reaches a destroyed queue and is dropped.
  QueuePtr results(rd_kafka_queue_new(handle_.get()));
  rd_kafka_resp_err_t err =
      rd_kafka_commit_queue(handle_.get(), list.get(), results.get(), nullptr, nullptr);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return FromKafka(err, "kafka commit");
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(*wait_until - Clock::now());
    if (left.count() <= 0) {
      return Status(ErrorCode::kTimeout,
                    "kafka commit: no answer from the group coordinator by the deadline");
    }
    rd_kafka_event_t* ev = rd_kafka_queue_poll(results.get(), static_cast<int>(left.count()));
    if (ev == nullptr) continue;
    const bool done = rd_kafka_event_type(ev) == RD_KAFKA_EVENT_OFFSET_COMMIT;
    err = rd_kafka_event_error(ev);
    rd_kafka_event_destroy(ev);
    if (!done) continue;
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      handle_.context()->all_brokers_down.store(false, std::memory_order_relaxed);
    }
    return FromKafka(err, "kafka commit");
  }
}

void KafkaConsumer::TakeReports() {
  // Errors reach their callback only through a consumer poll. Bounded: a
  // busy partition could otherwise feed this loop for as long as it runs.
  for (int i = 0; i < 100000; ++i) {
    MessagePtr msg(rd_kafka_consumer_poll(handle_.get(), 0));
    if (!msg) return;
  }
}

std::vector<PartitionLag> KafkaConsumer::Lag() {
  std::vector<PartitionLag> out;
  if (assigned_.empty()) return out;
  ListPtr list = ToList(assigned_);
  rd_kafka_committed(handle_.get(), list.get(), 5000);
  for (int i = 0; i < list->cnt; ++i) {
    const rd_kafka_topic_partition_t& e = list->elems[i];
    int64_t low = 0, high = 0;
    rd_kafka_get_watermark_offsets(handle_.get(), e.topic, e.partition, &low, &high);
    PartitionLag lag{{e.topic, e.partition}, high, e.offset >= 0 ? e.offset : -1, 0};
    lag.lag = high - std::max<int64_t>(lag.committed >= 0 ? lag.committed : low, low);
    if (topics_->ephemeral(e.topic)) lag.lag = 0;  // nothing is owed: read from the end
    out.push_back(lag);
  }
  return out;
}

void KafkaConsumer::AwaitFirstAssignment(Clock::time_point deadline) {
  if (rd_kafka_version() >= kFirstAssignmentFixedIn) return;
  auto cooperative_group = [&] {
    const char* protocol = rd_kafka_rebalance_protocol(handle_.get());
    return protocol != nullptr && std::strcmp(protocol, "COOPERATIVE") == 0;
  };
  // Capped: a member given no partitions may never see the callback.
  const auto until = std::min(deadline, Clock::now() + kFirstAssignmentWait);
  while (!assignment_seen_ && cooperative_group() && Clock::now() < until) {
    // Serves the rebalance callback. A message read here is not dispatched:
    // uncommitted, it is read again by the partition's next owner.
    MessagePtr msg(rd_kafka_consumer_poll(handle_.get(), 20));
  }
}

Status KafkaConsumer::Close(Clock::time_point deadline) {
  if (closed_ || !handle_) return Status();
  closed_ = true;
  Reattach(nullptr);
  AwaitFirstAssignment(deadline);
  Status status;
  if (BrokersDown()) {
    // Leaving the group needs the coordinator: the group expires this member
    // instead, and its partitions' uncommitted work is redelivered.
    queue_.reset();
    handle_.Destroy(RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    return Status(ErrorCode::kUnavailable,
                  "kafka consumer closed without leaving its group: every broker is down; the "
                  "group will expire it after kafka.consumer.session_timeout");
  }
  // Asynchronous close: serve its rebalance events (the core's revoke and
  // final commit) until librdkafka says closed, or the deadline.
  rd_kafka_error_t* e = rd_kafka_consumer_close_queue(handle_.get(), queue_.get());
  if (e != nullptr) {
    status = Status(ErrorCode::kUnavailable,
                    std::string("kafka consumer close: ") + rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
  } else {
    // librdkafka reports every broker down through this poll: stop waiting then.
    while (!rd_kafka_consumer_closed(handle_.get()) && Clock::now() < deadline && !BrokersDown()) {
      // Messages still arriving here were never dispatched: not committed,
      // so they are read again by the partition's next owner.
      MessagePtr msg(rd_kafka_consumer_poll(handle_.get(), 50));
    }
    if (!rd_kafka_consumer_closed(handle_.get())) {
      status = Status(ErrorCode::kTimeout,
                      "kafka consumer did not leave its group before the close deadline "
                      "(broker unreachable?); the group will expire it after "
                      "kafka.consumer.session_timeout");
    }
  }
  queue_.reset();
  handle_.Destroy(RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
  return status;
}

}  // namespace evbus::transport::kafka
