// Ephemeral topics on NATS (Persistence::kEphemeral): Core NATS
// publish/subscribe, no JetStream. Nothing stores a message: a member that is
// not connected when it is published never sees it (at-most-once).
//
// A topic's messages go to the subject <topic> itself (a JetStream stream
// must not cover it, or the stream would store them). Each group is a queue
// group on it, so one member of the group gets each message, as in a
// consumer group; its records carry partition 0 and a per-member counter as
// offset, so the engine's ordering and frontier work unchanged, and commits
// of them are dropped.
//
// Memory is bounded by cnats's per-subscription pending limits
// (subscriber.window messages, subscriber.memory_budget bytes): beyond them
// the server's messages are dropped and reported as a slow consumer.
//
// Thread safety: used from the consumer's polling thread only.

#ifndef EVBUS_TRANSPORT_NATS_NATS_EPHEMERAL_H_
#define EVBUS_TRANSPORT_NATS_NATS_EPHEMERAL_H_

#include <nats/nats.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "transport/nats/nats_session.h"
#include "transport/spare_records.h"
#include "transport/transport.h"

namespace evbus::transport::nats {

class EphemeralSubscriptions {
 public:
  EphemeralSubscriptions(NatsSession& session, std::string group)
      : session_(session), group_(std::move(group)) {}
  ~EphemeralSubscriptions() { UnsubscribeAll(); }
  EphemeralSubscriptions(const EphemeralSubscriptions&) = delete;
  EphemeralSubscriptions& operator=(const EphemeralSubscriptions&) = delete;

  // Subscribes to exactly `topics` (unsubscribing the others). Returns the
  // partitions gained and lost through `added` and `removed`.
  // Errors: Unavailable (not connected).
  Status Set(const std::vector<std::string>& topics, std::vector<TopicPartition>* added = nullptr,
             std::vector<TopicPartition>* removed = nullptr);
  // Unsubscribes from every topic, appending their partitions to `removed`.
  void UnsubscribeAll(std::vector<TopicPartition>* removed = nullptr);
  bool empty() const { return subs_.empty(); }
  // A paused topic is not read: its messages wait in cnats (up to the
  // pending limits; beyond them the server's are dropped, as for any slow
  // Core NATS subscriber), so the engine's window and memory budget hold.
  void SetPaused(const std::string& topic, bool paused);
  // Appends what is pending on the topics not paused, up to `max` records
  // in `out`; waits up to `wait` for a first one when there is none (on one
  // subscription: the others' messages wait for the next call).
  void Take(std::vector<RecordPtr>& out, size_t max, std::chrono::milliseconds wait,
            SpareRecords& spare);

 private:
  struct Sub {
    natsSubscription* sub = nullptr;
    int64_t next_offset = 0;
    bool paused = false;
  };
  NatsSession& session_;
  const std::string group_;
  std::map<std::string, Sub> subs_;  // by topic
  size_t rr_ = 0;
};

}  // namespace evbus::transport::nats

#endif  // EVBUS_TRANSPORT_NATS_NATS_EPHEMERAL_H_
