// The narrow interface every transport (memory, Kafka, NATS) implements.
//
// A transport only moves records: produce with a completion; and, for a
// consumer in a group, poll a batch, pause/resume a partition, commit an
// offset per partition, report assignment changes and lag, close. Ordering,
// retries, dead-lettering, the commit frontier, backpressure and lifecycle
// live once, in the core (src/core/), above this interface.

#ifndef EVBUS_TRANSPORT_TRANSPORT_H_
#define EVBUS_TRANSPORT_TRANSPORT_H_

#include <algorithm>
#include <chrono>
#include <compare>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "evbus/config.h"
#include "evbus/record.h"
#include "evbus/status.h"

namespace evbus::transport {

using Clock = std::chrono::steady_clock;

// Records handed out by a consumer are immutable and shared: the memory
// broker gives out the records of its log without copying them.
using RecordPtr = std::shared_ptr<const Record>;

struct TopicPartition {
  std::string topic;
  int32_t partition = 0;
  auto operator<=>(const TopicPartition&) const = default;
  bool operator==(const TopicPartition&) const = default;
};

std::string ToString(const TopicPartition& tp);

// Called exactly once per record a Producer accepted: with the partition and
// offset it was stored at, or an error. May run on the producing thread
// (memory) or a transport thread; never under a transport lock.
using DeliveryCallback = std::function<void(const Status&, int32_t partition, int64_t offset)>;

// Thread-safe: Produce may be called from many threads at once.
class Producer {
 public:
  virtual ~Producer() = default;
  // Hands `record` to the transport. On OK, `done` will be called exactly once;
  // on error it is never called. record.partition >= 0 stores it in that
  // partition; -1 lets the key choose (PartitionForKey; random without a key).
  // Errors: QueueFull (transport queue full; caller may wait and retry),
  // NotFound (missing topic where topics are not created), Closed,
  // InvalidArgument (record.partition out of range, where known here; else
  // the completion reports it).
  virtual Status Produce(Record&& record, DeliveryCallback done) = 0;
  // Waits until every accepted record has completed, or `deadline`.
  // Errors: Timeout, with the number still pending.
  virtual Status Flush(Clock::time_point deadline) = 0;
  // Stops accepting; completes whatever is still pending with Closed.
  virtual void Close(Clock::time_point deadline) = 0;
};

// Told about assignment changes. Called from inside Consumer::Poll, on the
// polling thread, with no transport lock held.
class RebalanceListener {
 public:
  virtual ~RebalanceListener() = default;
  virtual void OnAssigned(const std::vector<TopicPartition>& partitions) = 0;
  // After this returns, the partitions are released; the listener finishes or
  // abandons their work and commits what it can before returning. `lost` is
  // true when ownership is already gone (commits would be rejected).
  virtual void OnRevoked(const std::vector<TopicPartition>& partitions, bool lost) = 0;
};

// When the waits of a close (flush, final commit, leaving the group) should
// end so that tearing the client down still fits before `deadline`: a
// quarter of what is left early, at most 2 s. librdkafka's destroy joins its
// threads, which takes time of its own: about 0.8 s for a consumer whose
// broker was just killed, on an idle 2-core machine, and a bus may tear
// down a producer as well.
inline Clock::time_point WaitsEndBefore(Clock::time_point deadline) {
  const Clock::time_point now = Clock::now();
  if (deadline <= now) return deadline;
  return deadline - std::min<Clock::duration>(std::chrono::seconds(2), (deadline - now) / 4);
}

struct CommitOffset {
  TopicPartition tp;
  int64_t next_offset = 0;  // the offset of the next record to read
};

struct PartitionLag {
  TopicPartition tp;
  int64_t log_end = 0;     // next offset the broker will write
  int64_t committed = -1;  // the group's committed offset, -1 if none
  int64_t lag = 0;         // log_end - committed (or - log start when none)
};

// A member of one consumer group. Not thread-safe except Wakeup(): one
// thread (the core's consumer loop) calls everything else.
class Consumer {
 public:
  virtual ~Consumer() = default;
  // Subscribes to exactly `topics` (replacing any earlier set) and joins the group.
  // Errors: NotFound (a topic is missing and may not be created), Unavailable.
  virtual Status Subscribe(const std::vector<std::string>& topics, RebalanceListener* listener) = 0;
  // Appends at most `max_records` to `out`, waiting up to `timeout` for the
  // first one; returns early on Wakeup(). Rebalance callbacks run in here.
  virtual Status Poll(std::vector<RecordPtr>& out, size_t max_records,
                      std::chrono::milliseconds timeout) = 0;
  // Thread-safe: makes a Poll in progress (or the next one) return at once.
  virtual void Wakeup() = 0;
  // Stop / start fetching from an assigned partition. Nothing already
  // returned by Poll is affected; nothing is read and discarded.
  virtual void Pause(const TopicPartition& tp) = 0;
  virtual void Resume(const TopicPartition& tp) = 0;
  // Commits offsets for assigned partitions. Without `wait_until` the commit
  // is sent and not waited for; with it, waits for the broker's answer until
  // then and no longer (a broker that is gone must not hold Close past its
  // deadline). Errors: FailedPrecondition (a partition is no longer
  // assigned), Unavailable, Timeout (no answer by wait_until).
  virtual Status Commit(const std::vector<CommitOffset>& offsets,
                        std::optional<Clock::time_point> wait_until) = 0;
  // Closing, before the final commit: takes in what the client has queued to
  // report (e.g. every broker down), so that the commit does not wait on a
  // broker already known to be gone. Records read here are dropped
  // (uncommitted: the partition's next owner reads them again).
  virtual void TakeReports() {}
  // Records the engine is done with and nobody else holds, offered back
  // before a Poll: a consumer may refill them instead of allocating (their
  // strings keep their capacity). Takes what it wants; clears `records`.
  // Called from the polling thread.
  virtual void Recycle(std::vector<std::shared_ptr<Record>>& records) { records.clear(); }
  // Records settled in one partition after which a commit should not wait
  // for subscriber.commit_interval; 0 = wait. A broker that stops delivering
  // at a bound of unacknowledged messages (JetStream's MaxAckPending) needs
  // prompt commits to keep a partition flowing; Kafka does not.
  virtual int64_t EagerCommitAfter() const { return 0; }
  // Lag of the partitions currently assigned to this member.
  virtual std::vector<PartitionLag> Lag() = 0;
  // Leaves the group (revoking through the listener) and releases resources.
  virtual Status Close(Clock::time_point deadline) = 0;
};

// Where one partition's copies live, on transports that replicate (Kafka
// brokers by node id, JetStream servers by name).
struct PartitionPlacement {
  int32_t partition = 0;
  std::string leader;                 // empty while it has none (offline)
  std::vector<std::string> replicas;  // every copy, the leader's included
  std::vector<std::string> in_sync;   // copies caught up (Kafka ISR, JetStream current peers)
};

struct TopicInfo {
  std::string name;
  int32_t partitions = 0;
  std::string retention = {};  // for people, e.g. "1000 records per partition"; empty if unknown
  std::vector<PartitionPlacement> placement = {};  // by partition; empty if not replicated
};

// What Transport::ReadTopic hands its visitor: one stored record (topic,
// partition, offset, key, headers, payload, time) and how many records the
// read covers in all, for progress (on Kafka an upper bound: transaction
// markers and compacted records count). Returns false to stop reading.
using TopicVisitor = std::function<bool(const Record& record, int64_t total)>;

// Per-topic settings (Config::topics, then EventBus::ConfigureTopic). Written
// only before the bus starts and publishes (the bus enforces that), read
// without a lock afterwards, from any thread.
class TopicTable {
 public:
  explicit TopicTable(const std::map<std::string, TopicConfig>& topics = {});
  // The settings of `topic`: its entry, or the defaults.
  const TopicConfig& Get(std::string_view topic) const;
  // True when `topic` is ephemeral (at-most-once, never stored by consumers).
  bool ephemeral(std::string_view topic) const {
    return any_ephemeral_ && Get(topic).persistence == Persistence::kEphemeral;
  }
  // True when `topic` has settings of its own.
  bool Has(std::string_view topic) const { return !topics_.empty() && topics_.count(topic) != 0; }
  void Set(const std::string& topic, const TopicConfig& settings);

 private:
  std::map<std::string, TopicConfig, std::less<>> topics_;
  bool any_ephemeral_ = false;  // lets persistent-only buses skip the lookup
};

// Asynchronous transport problems (connection lost, broker errors, records
// lost to retention). Called from transport threads, never under a lock.
using ErrorSink = std::function<void(const Status&)>;

// Connection state changes: `connected` false with the reason when the
// transport lost its broker(s), true when it is back. Called from transport
// threads, never under a transport lock, only on a change (not repeated).
using ConnectionSink = std::function<void(bool connected, const Status& reason)>;

class Transport {
 public:
  virtual ~Transport() = default;
  virtual std::string_view name() const = 0;
  // Per-topic settings, shared with the producers and consumers this
  // transport creates. The bus fills it (Config::topics, ConfigureTopic)
  // before it creates any of them.
  const std::shared_ptr<TopicTable>& topics() const { return topics_; }
  // Set once, before any producer or consumer is created.
  virtual void SetErrorSink(ErrorSink sink) { (void)sink; }
  // Set once, before any producer or consumer is created. A transport that
  // never disconnects (memory) ignores it.
  virtual void SetConnectionSink(ConnectionSink sink) { (void)sink; }
  virtual Result<std::unique_ptr<Producer>> CreateProducer() = 0;
  virtual Result<std::unique_ptr<Consumer>> CreateConsumer(const std::string& group) = 0;
  // Applies the topic strategy to `topic` (create when missing, check partitions).
  // Errors: NotFound (missing under validate_only), FailedPrecondition (mismatch).
  virtual Status EnsureTopic(const std::string& topic) = 0;
  virtual Result<TopicInfo> DescribeTopic(const std::string& topic) = 0;
  // Every topic, sorted by name (for `evbus topics`).
  // Errors: NotImplemented where the transport cannot list them (the default).
  virtual Result<std::vector<TopicInfo>> ListTopics() {
    return Status(ErrorCode::kNotImplemented,
                  std::string(name()) + " transport cannot list topics; name them to describe");
  }
  virtual bool connected() const = 0;

  // For tools (evbus dlq): reads `topic` from the start of each partition's
  // log up to its end as of the call, partition after partition in offset
  // order, handing each record to `visit` on the calling thread. No consumer
  // group is involved: nothing is committed and nothing is left on the broker
  // (Kafka: partitions assigned directly, no group.id; NATS: an ephemeral
  // consumer per partition, deleted after; memory: a snapshot of the log).
  // Errors: NotFound (no such topic), Unavailable, Timeout (the broker stopped
  // answering mid-read), NotImplemented (the default).
  virtual Status ReadTopic(const std::string& topic, const TopicVisitor& visit) {
    (void)topic;
    (void)visit;
    return Status(ErrorCode::kNotImplemented,
                  std::string(name()) + " transport cannot read a topic without a group");
  }
  // Removes every record `topic` holds when the call starts (Kafka: deletes
  // records up to each partition's high watermark; NATS: purges the topic's
  // subjects up to their last sequence; memory: empties each log). Records
  // appended meanwhile may stay. Offsets are never reused: a group that had
  // not read the removed records skips them. Returns how many were removed.
  // Errors: NotFound (no such topic), Unavailable, NotImplemented (the default).
  virtual Result<int64_t> PurgeTopic(const std::string& topic) {
    (void)topic;
    return Status(ErrorCode::kNotImplemented,
                  std::string(name()) + " transport cannot purge a topic");
  }
  // Deletes `topics` with every record and consumer position they hold, and
  // returns once they are gone from what new clients see (Kafka: one
  // DeleteTopics admin request; NATS: each partition's stream). A topic that
  // does not exist is skipped. For tools and benchmarks that made throwaway
  // topics: a broker that keeps every one of them slows down (thousands of
  // Kafka partitions each hold open index files) and fills up.
  // Errors: FailedPrecondition (NATS with nats.stream set: the topics share
  // one stream), Unavailable, Timeout, NotImplemented (the default).
  virtual Status DeleteTopics(const std::vector<std::string>& topics) {
    (void)topics;
    return Status(ErrorCode::kNotImplemented,
                  std::string(name()) + " transport cannot delete a topic");
  }

 private:
  const std::shared_ptr<TopicTable> topics_ = std::make_shared<TopicTable>();
};

// The topic strategy's verdict on an existing `topic` that has `have`
// partitions where `want` were expected (`setting` names the Config field
// `want` comes from). validate_only and create_or_update reject a
// difference; create_if_missing and skip take the topic as it is. evbus never
// adds partitions: that moves keys to other partitions and breaks per-key order.
// Errors: FailedPrecondition saying what differs and what to do.
Status CheckTopicPartitions(std::string_view transport, const std::string& topic, int32_t have,
                            int32_t want, std::string_view setting, TopicStrategy strategy);

// Creates the transport that config.transport names, with config.topics as
// its per-topic settings.
// Errors: NotImplemented for a transport not built into this version,
// Unavailable when it cannot connect.
Result<std::unique_ptr<Transport>> CreateTransport(const Config& config, uint64_t bus_id);

// The partition jxt-core's sarama hash partitioner chooses for `key`:
// int32(fnv1a_32(key)) % partitions, negated when negative.
int32_t PartitionForKey(std::string_view key, int32_t partitions);

}  // namespace evbus::transport

#endif  // EVBUS_TRANSPORT_TRANSPORT_H_
