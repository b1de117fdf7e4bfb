#include "transport/memory/memory_transport.h"

#include <atomic>

namespace evbus::transport {
namespace {

bool MayCreate(TopicStrategy s) {
  return s == TopicStrategy::kCreateIfMissing || s == TopicStrategy::kCreateOrUpdate;
}

// Creates `topic` with its settings (topics.<name>) when it is missing.
// Errors: InvalidArgument.
Status CreateMissing(MemoryBroker& broker, const TopicTable& topics, const std::string& topic) {
  if (broker.Partitions(topic)) return Status();
  const TopicConfig& settings = topics.Get(topic);
  Status s = broker.CreateTopic(topic, settings.partitions,
                                settings.persistence == Persistence::kEphemeral);
  return s.code() == ErrorCode::kAlreadyExists ? Status() : s;  // created concurrently
}

class MemoryProducer final : public Producer {
 public:
  MemoryProducer(std::shared_ptr<MemoryBroker> broker, TopicStrategy strategy,
                 std::shared_ptr<const TopicTable> topics)
      : broker_(std::move(broker)),
        create_missing_(MayCreate(strategy)),
        topics_(std::move(topics)) {}

  Status Produce(Record&& record, DeliveryCallback done) override {
    if (closed_.load(std::memory_order_acquire)) return Closed("producer is closed");
    // A topic with settings of its own is created with them, not the defaults.
    if (create_missing_ && topics_->Has(record.topic)) {
      if (Status s = CreateMissing(*broker_, *topics_, record.topic); !s.ok()) return s;
    }
    Result<MemoryBroker::Appended> r = broker_->Append(std::move(record), create_missing_);
    if (!r.ok()) return r.status();
    if (done) done(Status(), r->partition, r->offset);
    return Status();
  }
  Status Flush(Clock::time_point) override { return Status(); }  // nothing is ever pending
  void Close(Clock::time_point) override { closed_.store(true, std::memory_order_release); }

 private:
  std::shared_ptr<MemoryBroker> broker_;
  const bool create_missing_;
  const std::shared_ptr<const TopicTable> topics_;
  std::atomic<bool> closed_{false};
};

class MemoryConsumer final : public Consumer {
 public:
  MemoryConsumer(std::shared_ptr<MemoryBroker> broker, std::string group, TopicStrategy strategy,
                 std::shared_ptr<const TopicTable> topics)
      : broker_(std::move(broker)),
        group_(std::move(group)),
        strategy_(strategy),
        topics_(std::move(topics)) {}
  ~MemoryConsumer() override {
    if (member_ != 0) broker_->Leave(group_, member_);
  }

  Status Subscribe(const std::vector<std::string>& topics, RebalanceListener* listener) override {
    for (const std::string& t : topics) {
      if (broker_->Partitions(t)) continue;
      if (!MayCreate(strategy_)) return NotFound("topic " + t + " does not exist");
      if (Status s = CreateMissing(*broker_, *topics_, t); !s.ok()) return s;
    }
    listener_ = listener;
    if (member_ == 0) {
      member_ = broker_->Join(group_, topics);
    } else {
      broker_->SetTopics(group_, member_, topics);
    }
    return Status();
  }

  Status Poll(std::vector<RecordPtr>& out, size_t max, std::chrono::milliseconds timeout) override {
    if (member_ == 0) return FailedPrecondition("poll before subscribe");
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      MemoryBroker::Step step = broker_->PollStep(group_, member_, out, max, deadline);
      switch (step.kind) {
        case MemoryBroker::StepKind::kRevoke:
          if (listener_) listener_->OnRevoked(step.partitions, /*lost=*/false);
          broker_->Release(group_, member_, step.partitions);
          continue;
        case MemoryBroker::StepKind::kAssigned:
          if (listener_) listener_->OnAssigned(step.partitions);
          continue;
        case MemoryBroker::StepKind::kRecords:
        case MemoryBroker::StepKind::kTimeout:
        case MemoryBroker::StepKind::kWakeup:
          break;
      }
      break;
    }
    if (const int64_t lost = broker_->TakeLostRecords(group_, member_); lost > 0) {
      return Status(ErrorCode::kUnavailable,
                    std::to_string(lost) + " records were removed by retention before group " +
                        group_ + " read them (memory.retention_records / retention_bytes)");
    }
    return Status();
  }

  void Wakeup() override {
    if (const MemoryBroker::MemberId id = member_.load(); id != 0) broker_->Wakeup(group_, id);
  }
  void Pause(const TopicPartition& tp) override { broker_->SetPaused(group_, member_, tp, true); }
  void Resume(const TopicPartition& tp) override { broker_->SetPaused(group_, member_, tp, false); }

  Status Commit(const std::vector<CommitOffset>& offsets,
                std::optional<Clock::time_point>) override {
    return broker_->Commit(group_, member_, offsets);
  }
  std::vector<PartitionLag> Lag() override { return broker_->Lag(group_, member_); }

  Status Close(Clock::time_point) override {
    if (member_ == 0) return Status();
    // Revoke through the listener first (it commits), then leave.
    std::vector<RecordPtr> none;
    MemoryBroker::Step step;
    broker_->SetTopics(group_, member_, {});
    do {
      step = broker_->PollStep(group_, member_, none, 0, Clock::now());
      if (step.kind == MemoryBroker::StepKind::kRevoke) {
        if (listener_) listener_->OnRevoked(step.partitions, false);
        broker_->Release(group_, member_, step.partitions);
      }
    } while (step.kind == MemoryBroker::StepKind::kRevoke);
    broker_->Leave(group_, member_);
    member_ = 0;
    return Status();
  }

 private:
  std::shared_ptr<MemoryBroker> broker_;
  const std::string group_;
  const TopicStrategy strategy_;
  const std::shared_ptr<const TopicTable> topics_;
  // Atomic: Wakeup() reads it from any thread while Subscribe/Close (the
  // polling thread) set it; the broker ignores a wakeup for a member that left.
  std::atomic<MemoryBroker::MemberId> member_{0};
  RebalanceListener* listener_ = nullptr;
};

class MemoryTransport final : public Transport {
 public:
  explicit MemoryTransport(const Config& config)
      : strategy_(config.topic_strategy),
        partitions_(config.memory.partitions),
        broker_(MemoryBroker::Named(
            config.memory.broker,
            MemoryBroker::Options{config.memory.partitions, config.memory.retention_records,
                                  config.memory.retention_bytes})) {}

  std::string_view name() const override { return "memory"; }
  Result<std::unique_ptr<Producer>> CreateProducer() override {
    return std::unique_ptr<Producer>(new MemoryProducer(broker_, strategy_, topics()));
  }
  Result<std::unique_ptr<Consumer>> CreateConsumer(const std::string& group) override {
    return std::unique_ptr<Consumer>(new MemoryConsumer(broker_, group, strategy_, topics()));
  }
  Status EnsureTopic(const std::string& topic) override {
    if (strategy_ == TopicStrategy::kSkip) return Status();
    std::optional<int32_t> have = broker_->Partitions(topic);
    if (!have) {
      if (!MayCreate(strategy_)) {
        return NotFound("memory topic " + topic +
                        " does not exist (topic_strategy validate_only: create it first, or use "
                        "create_if_missing)");
      }
      return CreateMissing(*broker_, *topics(), topic);
    }
    // Buses sharing a broker must agree on what the topic keeps.
    if (broker_->Ephemeral(topic) != topics()->ephemeral(topic)) {
      return FailedPrecondition("memory topic " + topic + " exists " +
                                (broker_->Ephemeral(topic) ? "ephemeral" : "persistent") +
                                ", but topics." + topic + ".persistence says " +
                                (topics()->ephemeral(topic) ? "ephemeral" : "persistent"));
    }
    const int32_t own = topics()->Get(topic).partitions;
    return CheckTopicPartitions("memory", topic, *have, own > 0 ? own : partitions_,
                                own > 0 ? "topics." + topic + ".partitions" : "memory.partitions",
                                strategy_);
  }
  Result<TopicInfo> DescribeTopic(const std::string& topic) override {
    for (TopicInfo& info : broker_->Topics()) {
      if (info.name == topic) return info;
    }
    return NotFound("topic " + topic + " does not exist");
  }
  Result<std::vector<TopicInfo>> ListTopics() override { return broker_->Topics(); }
  bool connected() const override { return true; }
  Status ReadTopic(const std::string& topic, const TopicVisitor& visit) override {
    Result<std::vector<RecordPtr>> records = broker_->Snapshot(topic);
    if (!records.ok()) return records.status();
    const auto total = static_cast<int64_t>(records->size());
    for (const RecordPtr& r : *records) {
      if (!visit(*r, total)) break;
    }
    return Status();
  }
  Result<int64_t> PurgeTopic(const std::string& topic) override { return broker_->Purge(topic); }

  const std::shared_ptr<MemoryBroker>& broker() const { return broker_; }

 private:
  const TopicStrategy strategy_;
  const int32_t partitions_;
  std::shared_ptr<MemoryBroker> broker_;
};

}  // namespace

std::unique_ptr<Transport> NewMemoryTransport(const Config& config) {
  return std::make_unique<MemoryTransport>(config);
}

}  // namespace evbus::transport
