// Notices: which partitions have new messages, as their streams tell.
//
// cnats's fetch waits on one partition's subscription, so a consumer that
// only fetched would learn of a message on a quiet partition when a waiting
// fetch came round to it. A stream evbus creates in the partitioned layout
// republishes the headers of each message it stores (RePublish, HeadersOnly)
// to NoticeSubject(its subject), with the message's stream sequence in
// Nats-Sequence. A member subscribes to the notices of its topics and keeps,
// per partition, the highest sequence told: one wait on all partitions at
// once, and the count of new messages to fetch.
//
// Notices are hints. One can be missing (a stream made before this, or
// made by someone else; notices lost in a reconnect or a leader change), so
// the consumer still fetches each partition now and then without one.
//
// Memory: one sequence per partition; each subscription's cnats queue is
// bounded (beyond it the server drops notices, which are hints).
//
// Thread safety: Set, UnsubscribeAll from the polling thread; Latest, Wait,
// Poke from any thread. cnats delivers the notices on its own thread (one per
// topic subscription, the bus's in the census).

#ifndef EVBUS_TRANSPORT_NATS_NATS_NOTICES_H_
#define EVBUS_TRANSPORT_NATS_NATS_NOTICES_H_

#include <nats/nats.h>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "transport/nats/nats_session.h"

namespace evbus::transport::nats {

// Whether evbus's streams send notices: nats.notices, with a stream per
// partition (nats.layout partitioned, no nats.stream). A shared stream is
// the user's.
bool StreamsSendNotices(const NatsConfig& config);
// Where the stream of `subject` republishes its notices.
std::string NoticeSubject(std::string_view subject);

class Notices {
 public:
  explicit Notices(NatsSession& session);
  ~Notices() { UnsubscribeAll(); }
  Notices(const Notices&) = delete;
  Notices& operator=(const Notices&) = delete;

  // Listens to the notices of exactly `topics` (partitioned layout).
  // Errors: Unavailable.
  Status Set(const std::vector<std::string>& topics);
  void UnsubscribeAll();
  // Whether it listens to any topic's notices.
  bool listening() const { return !subs_.empty(); }

  // The highest stream sequence told for tp; 0: none yet.
  uint64_t Latest(const TopicPartition& tp) const;
  // Whether any partition of `topic` was told of: its streams send notices.
  bool Heard(std::string_view topic) const;
  // Waits until a notice comes after the last Wait returned, `stop()` holds
  // (checked under the notices' lock: set it, then Poke), or `until`.
  void Wait(std::chrono::steady_clock::time_point until, const std::function<bool()>& stop);
  void Poke();

 private:
  struct Board;
  struct Listener;

  NatsSession& session_;
  std::shared_ptr<Board> board_;
  std::map<std::string, natsSubscription*> subs_;  // by topic
};

}  // namespace evbus::transport::nats

#endif  // EVBUS_TRANSPORT_NATS_NATS_NOTICES_H_
