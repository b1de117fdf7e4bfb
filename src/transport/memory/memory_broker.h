// MemoryBroker: an in-process broker model, so the core engine can be proven
// without a network.
//
// It keeps what a real log broker keeps: topics with N partitions; per
// partition an append-only log with a retention limit (records and bytes;
// the oldest records go first and the log start offset moves up); per group
// committed offsets; consumer groups with range assignment and an eager
// rebalance whenever a member joins, leaves or changes topics. A partition is
// handed to its new owner only after its old owner released it (after its
// revoke callback committed), as Kafka's eager protocol does.
//
// Several buses in one process share a broker by name (memory.broker).
//
// Thread safety: all methods are thread-safe; one mutex guards the state and
// nothing blocks or calls out while holding it.

#ifndef EVBUS_TRANSPORT_MEMORY_MEMORY_BROKER_H_
#define EVBUS_TRANSPORT_MEMORY_MEMORY_BROKER_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "evbus/record.h"
#include "evbus/status.h"
#include "transport/transport.h"

namespace evbus::transport {

class MemoryBroker {
 public:
  struct Options {
    int32_t default_partitions = 8;
    int64_t retention_records = 1'000'000;
    int64_t retention_bytes = 1LL << 30;
  };

  // The broker called `name`, created with `options` if no live bus holds it.
  static std::shared_ptr<MemoryBroker> Named(const std::string& name, const Options& options);

  explicit MemoryBroker(const Options& options) : options_(options) {}

  // `partitions` 0 means the broker's default. An `ephemeral` topic's
  // readers start at the end of its log and their commits are not kept.
  // Errors: AlreadyExists, InvalidArgument (partitions < 0).
  Status CreateTopic(const std::string& topic, int32_t partitions, bool ephemeral = false);
  std::optional<int32_t> Partitions(const std::string& topic) const;
  // Whether `topic` was created ephemeral; false for a missing topic.
  bool Ephemeral(const std::string& topic) const;
  // Every topic with its partition count and retention, sorted by name.
  std::vector<TopicInfo> Topics() const;

  struct Appended {
    int32_t partition;
    int64_t offset;
  };
  // Appends to record.partition when it is >= 0 (InvalidArgument when out of
  // range), else to the partition of record.key (random when empty).
  // Errors: NotFound when the topic is missing and !create_missing.
  Result<Appended> Append(Record&& record, bool create_missing);

  // Every record `topic` holds now, partition after partition in offset
  // order (shared, not copied). Errors: NotFound.
  Result<std::vector<RecordPtr>> Snapshot(const std::string& topic) const;
  // Empties every partition of `topic` (its log start moves to its end, as
  // retention would) and returns how many records went. Errors: NotFound.
  Result<int64_t> Purge(const std::string& topic);

  // --- consumer groups ---
  using MemberId = uint64_t;
  MemberId Join(const std::string& group, const std::vector<std::string>& topics);
  void SetTopics(const std::string& group, MemberId member, const std::vector<std::string>& topics);
  // Removes the member; its partitions become free for the others.
  void Leave(const std::string& group, MemberId member);

  // One step of a member's poll. Either records were appended to `out`, or the
  // member must run a rebalance callback and come back.
  enum class StepKind { kRecords, kRevoke, kAssigned, kTimeout, kWakeup };
  struct Step {
    StepKind kind = StepKind::kTimeout;
    std::vector<TopicPartition> partitions;  // for kRevoke / kAssigned
  };
  Step PollStep(const std::string& group, MemberId member, std::vector<RecordPtr>& out, size_t max,
                std::chrono::steady_clock::time_point deadline);
  // Hands back partitions after the member's revoke callback ran.
  void Release(const std::string& group, MemberId member, const std::vector<TopicPartition>& tps);
  void Wakeup(const std::string& group, MemberId member);
  void SetPaused(const std::string& group, MemberId member, const TopicPartition& tp, bool paused);

  // Errors: FailedPrecondition when the member does not own a partition.
  Status Commit(const std::string& group, MemberId member,
                const std::vector<CommitOffset>& offsets);
  std::vector<PartitionLag> Lag(const std::string& group, MemberId member) const;
  // The committed offset of `group` on `tp`, -1 if none (for tests and tools).
  int64_t Committed(const std::string& group, const TopicPartition& tp) const;
  // Records the member skipped because retention removed them before it read them.
  int64_t TakeLostRecords(const std::string& group, MemberId member);

 private:
  struct PartitionLog {
    std::deque<RecordPtr> records;  // topic, partition, offset and time filled in
    int64_t start_offset = 0;       // offset of records.front()
    int64_t bytes = 0;
    int64_t end_offset() const { return start_offset + static_cast<int64_t>(records.size()); }
  };
  struct Topic {
    std::vector<PartitionLog> partitions;
    // At-most-once (Persistence::kEphemeral): members start reading at the
    // log's end and their commits are not kept.
    bool ephemeral = false;
  };
  struct Member {
    std::vector<std::string> topics;
    uint64_t generation_seen = 0;
    std::vector<TopicPartition> target;       // this generation's assignment
    std::map<TopicPartition, int64_t> owned;  // partition -> next offset to read
    std::set<TopicPartition> paused;
    size_t next_fetch = 0;  // round-robin start among owned partitions
    bool wakeup = false;
    int64_t lost_records = 0;
  };
  struct Group {
    uint64_t generation = 0;
    std::map<MemberId, Member> members;
    std::map<TopicPartition, MemberId> owner;
    std::map<TopicPartition, int64_t> committed;
  };

  Topic& GetOrCreateTopicLocked(const std::string& topic);
  void RebalanceLocked(Group& group);
  size_t FetchLocked(Group& group, Member& member, std::vector<RecordPtr>& out, size_t max);
  void NotifyLocked();

  const Options options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;  // records appended, partitions released, wakeups
  int waiters_ = 0;
  std::map<std::string, Topic> topics_;
  std::map<std::string, Group> groups_;
  MemberId next_member_ = 1;
  uint64_t random_state_ = 0x9E3779B97F4A7C15ULL;
};

}  // namespace evbus::transport

#endif  // EVBUS_TRANSPORT_MEMORY_MEMORY_BROKER_H_
