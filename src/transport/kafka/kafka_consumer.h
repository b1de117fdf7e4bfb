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

#ifndef EVBUS_TRANSPORT_KAFKA_KAFKA_CONSUMER_H_
#define EVBUS_TRANSPORT_KAFKA_KAFKA_CONSUMER_H_

#include <atomic>
#include <memory>

#include "transport/kafka/kafka_common.h"

namespace evbus::transport::kafka {

class KafkaConsumer final : public Consumer {
 public:
  static Result<std::unique_ptr<KafkaConsumer>> Create(const Config& config, KafkaShared* shared,
                                                       uint64_t bus_id);
  ~KafkaConsumer() override { (void)Close(Clock::now()); }

  Status Subscribe(const std::vector<std::string>& topics, RebalanceListener* listener) override;
  Status Poll(std::vector<RecordPtr>& out, size_t max_records,
              std::chrono::milliseconds timeout) override;
  void Wakeup() override;
  void Pause(const TopicPartition& tp) override;
  void Resume(const TopicPartition& tp) override;
  Status Commit(const std::vector<CommitOffset>& offsets, bool synchronous) override;
  std::vector<PartitionLag> Lag() override;
  Status Close(Clock::time_point deadline) override;

  // librdkafka's rebalance callback (polling thread).
  void OnRebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions);

 private:
  explicit KafkaConsumer(KafkaShared* shared) : shared_(shared) {}
  RecordPtr ToRecord(const rd_kafka_message_t& msg);

  KafkaShared* shared_;
  Handle handle_;
  QueuePtr queue_;  // the consumer queue, for Wakeup
  RebalanceListener* listener_ = nullptr;
  std::vector<TopicPartition> assigned_;
  bool closed_ = false;
};

}  // namespace evbus::transport::kafka

#endif  // EVBUS_TRANSPORT_KAFKA_KAFKA_CONSUMER_H_
