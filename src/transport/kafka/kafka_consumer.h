// KafkaConsumer: librdkafka's high-level consumer behind transport::Consumer.
//
// Auto-commit is off: offsets are committed only through Commit(), which the
// core calls with its frontier. Rebalances arrive inside Poll (librdkafka's
// rebalance callback runs on the polling thread) and are handed to the core's
// listener before librdkafka assigns or unassigns: on revoke the core drains
// and commits while the partitions are still ours. Eager ("range",
// "roundrobin") and cooperative ("cooperative-sticky") assignors are both
// handled. Close leaves the group through librdkafka's asynchronous close,
// serving rebalance events until the deadline, so an unreachable broker
// cannot hold Close past it.
//
// Pause does not call rd_kafka_pause_partitions: on librdkafka 2.0 a paused
// partition's prefetched messages are purged, and after resume the fetcher
// restarts only when its broker thread next wakes (up to 1 s later; measured
// at 0.4-0.8 s a cycle, which capped throughput under backpressure at a
// quarter of the raw client's). Instead a paused partition's queue is
// detached from the consumer queue: librdkafka keeps fetching into it up to
// queued.max.messages.kbytes (see BuildConf) and then stops, and Resume
// re-attaches it, appending what it holds behind what was already queued, in
// order. Messages of a paused partition that were already in the consumer
// queue are held back here (not handed to the core) and returned first after
// its resume. So a pause costs nothing, a resume is immediate, and the core's
// window still bounds what it holds.
//
// Once the application has forwarded a partition's queue, librdkafka leaves
// its forwarding to the application for good (RD_KAFKA_Q_F_FWD_APP), yet
// still clears it when the partition's fetcher stops on revoke. A partition
// paused once, revoked and given back to this consumer then filled its own
// queue and was never read (the chaos suite's Kafka stall). So every assigned
// partition's queue is forwarded here, by Attach, not by librdkafka.

#ifndef EVBUS_TRANSPORT_KAFKA_KAFKA_CONSUMER_H_
#define EVBUS_TRANSPORT_KAFKA_KAFKA_CONSUMER_H_

#include <atomic>
#include <deque>
#include <map>
#include <memory>

#include "transport/kafka/kafka_common.h"
#include "transport/spare_records.h"

namespace evbus::transport::kafka {

class KafkaConsumer final : public Consumer {
 public:
  // `topics`: per-topic settings; an ephemeral topic's partitions are read
  // from their end on every assignment and never committed.
  static Result<std::unique_ptr<KafkaConsumer>> Create(const Config& config, KafkaShared* shared,
                                                       uint64_t bus_id,
                                                       std::shared_ptr<const TopicTable> topics);
  ~KafkaConsumer() override { (void)Close(Clock::now()); }

  Status Subscribe(const std::vector<std::string>& topics, RebalanceListener* listener) override;
  Status Poll(std::vector<RecordPtr>& out, size_t max_records,
              std::chrono::milliseconds timeout) override;
  void Wakeup() override;
  void Pause(const TopicPartition& tp) override;
  void Resume(const TopicPartition& tp) override;
  Status Commit(const std::vector<CommitOffset>& offsets,
                std::optional<Clock::time_point> wait_until) override;
  void TakeReports() override;
  void Recycle(std::vector<std::shared_ptr<Record>>& records) override;
  std::vector<PartitionLag> Lag() override;
  Status Close(Clock::time_point deadline) override;

  // librdkafka's rebalance callback (polling thread).
  void OnRebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions);

 private:
  KafkaConsumer(KafkaShared* shared, std::shared_ptr<const TopicTable> topics)
      : shared_(shared), topics_(std::move(topics)) {}
  // A spare record refilled in place, or a new one.
  RecordPtr ToRecord(const rd_kafka_message_t& msg);
  // Appends `msg` to `out`, or holds it back (paused partition), or reports it (error).
  void Take(MessagePtr msg, std::vector<RecordPtr>& out);
  // Forwards `tp`'s own queue to the consumer queue (see the file comment).
  // On assign: librdkafka's rejoin waits for the previous revoke's fetcher
  // stops, which clear forwarding, so none can undo this one.
  void Attach(const TopicPartition& tp);
  // Re-attaches the queues of `tps` (all when null) to the consumer queue
  // and drops what was held back for them (uncommitted: read again later).
  void Reattach(const std::vector<TopicPartition>* tps);
  // librdkafka before 2.3.0 aborts in rd_kafka_destroy when a
  // cooperative-sticky consumer joined its group but was not yet given its
  // first assignment (the sticky assignor's state is still null:
  // confluentinc/librdkafka#4312, Debian 12 ships 2.0.2). Such a consumer
  // waits for that assignment before closing, within `deadline` and at
  // most kFirstAssignmentWait.
  static constexpr int kFirstAssignmentFixedIn = 0x020300ff;
  static constexpr std::chrono::seconds kFirstAssignmentWait{3};
  void AwaitFirstAssignment(Clock::time_point deadline);
  // Every broker down, as this handle or another of the bus (the producer
  // often hears it first) last reported.
  bool BrokersDown() const {
    return handle_.context()->all_brokers_down.load(std::memory_order_acquire) ||
           !shared_->connected.load(std::memory_order_acquire);
  }
  // Appends held-back messages of resumed partitions to `out`; true when
  // some remain (the next Poll returns them before reading the queue).
  bool TakeHeld(std::vector<RecordPtr>& out, size_t max_records);

  KafkaShared* shared_;
  const std::shared_ptr<const TopicTable> topics_;
  Handle handle_;
  QueuePtr queue_;  // the consumer queue, for Wakeup
  RebalanceListener* listener_ = nullptr;
  std::vector<TopicPartition> assigned_;
  std::map<TopicPartition, QueuePtr> detached_;  // paused partitions' own queues
  // Messages read from the consumer queue for a partition paused meanwhile:
  // at most what that queue held (queued.max.messages.kbytes) at the pause.
  std::map<TopicPartition, std::deque<MessagePtr>> held_;
  SpareRecords spare_;            // refilled by ToRecord
  bool assignment_seen_ = false;  // an assign rebalance callback has run
  bool closed_ = false;
};

}  // namespace evbus::transport::kafka

#endif  // EVBUS_TRANSPORT_KAFKA_KAFKA_CONSUMER_H_
