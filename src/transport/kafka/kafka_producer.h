// KafkaProducer: librdkafka's producer behind transport::Producer.
//
// Every accepted record carries its completion as the message opaque; the
// delivery report (served by the "evb-kprod" thread, or by Flush) calls it
// exactly once and frees it. Close flushes until its deadline, then purges
// what is left, whose reports complete with kClosed, then destroys the
// handle and waits for librdkafka's threads. A Produce that began before
// Close finishes on a live handle: Close waits for it before destroying,
// and completes whatever it queued.
//
// Each topic's handle is looked up once and kept: its first publish asks the
// broker for the topic's metadata (up to kTopicPrimeWait). librdkafka 2.0
// otherwise holds the first records for a topic missing from its metadata
// cache until its next periodic scan, up to a second later.

#ifndef EVBUS_TRANSPORT_KAFKA_KAFKA_PRODUCER_H_
#define EVBUS_TRANSPORT_KAFKA_KAFKA_PRODUCER_H_

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#include "core/thread.h"
#include "transport/kafka/kafka_common.h"

namespace evbus::transport::kafka {

class KafkaProducer final : public Producer {
 public:
  // `ensure_topic` runs before the first record to each topic: without it the
  // broker would auto-create a missing topic with its own partition count.
  static Result<std::unique_ptr<KafkaProducer>> Create(const Config& config, KafkaShared* shared,
                                                       uint64_t bus_id, EnsureTopicFn ensure_topic);
  ~KafkaProducer() override { Close(Clock::now()); }

  Status Produce(Record&& record, DeliveryCallback done) override;
  Status Flush(Clock::time_point deadline) override;
  void Close(Clock::time_point deadline) override;

 private:
  static constexpr std::chrono::milliseconds kTopicPrimeWait{500};

  explicit KafkaProducer(KafkaShared* shared) : shared_(shared) {}
  void PollLoop();
  // The kept handle for `topic`: a new one is asserted (ensure_topic_) and
  // primed with metadata. Errors: the assertion's (e.g. NotFound under
  // validate_only), or librdkafka refusing the name. Never blocks under topics_mu_.
  Result<rd_kafka_topic_t*> TopicHandle(const std::string& topic);
  void DestroyTopicHandles();

  KafkaShared* shared_;
  EnsureTopicFn ensure_topic_;
  Handle handle_;
  std::shared_mutex use_mu_;  // Produce shares it; Close takes it to destroy
  bool destroyed_ = false;    // guarded by use_mu_
  std::mutex topics_mu_;
  std::unordered_map<std::string, rd_kafka_topic_t*> topics_;
  core::Thread poller_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> closed_{false};
};

}  // namespace evbus::transport::kafka

#endif  // EVBUS_TRANSPORT_KAFKA_KAFKA_PRODUCER_H_
