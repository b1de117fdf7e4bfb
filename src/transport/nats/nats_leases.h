// Leases: which member of a consumer group owns which partition.
//
// JetStream 2.9 has no exclusive pull consumer, so members agree through a
// small stream, EVBUS_LEASES (memory storage, one message per subject, max age
// = kLeaseTtl):
//   evbus.lease.<group>.m.<member>       a member's heartbeat
//   evbus.lease.<group>.l.<topic>.<p>    the lease of a partition
// Each Step (on Poll, about every second) a member re-publishes its heartbeat
// and refreshes each lease it holds with Nats-Expected-Last-Subject-Sequence =
// its own last write, so a refresh fails exactly when the lease expired and
// someone else claimed it (lost). Live members are the heartbeat subjects
// present; each member's fair share of a topic is ceil(partitions / members).
// Above it, a member gives partitions up (revoke, commit, then Release purges
// the lease); below it, it claims free leases by publishing with "expect no
// message". A member that dies stops refreshing; its messages expire after
// kLeaseTtl and the others claim its partitions.
//
// A lease stream lost with a restarted server (memory storage) is made
// again, and the leases held are written again if nobody claimed them first.
//
// Two rules keep two members from ever reading one partition at once (one
// would fetch past what the other still holds, and a key's later version
// would be handled before its earlier one):
//   - A holder's lease lapses on its own clock kLeaseValid after it sent its
//     last successful write, whether or not it can reach the server (Lapsed):
//     the server's copy lives kLeaseTtl from when it arrived, so the holder
//     lets go first.
//   - No member claims in a lease stream younger than kLeaseTtl (on the
//     server's clock): made again after a restart, it has lost the leases
//     that their holders still count on, until those lapse.
//
// Thread safety: not thread-safe; the consumer serialises its polling thread
// and its lease keeper.

#ifndef EVBUS_TRANSPORT_NATS_NATS_LEASES_H_
#define EVBUS_TRANSPORT_NATS_NATS_LEASES_H_

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "transport/nats/nats_session.h"
#include "transport/transport.h"

namespace evbus::transport::nats {

inline constexpr auto kLeaseTtl = std::chrono::seconds(3);
inline constexpr auto kLeaseRefresh = std::chrono::seconds(1);
// How long a lease counts as held after its last successful write was sent:
// below kLeaseTtl by a margin for checking it (at each Poll or keeper tick).
inline constexpr auto kLeaseValid = kLeaseTtl - kLeaseRefresh;

class Leases {
 public:
  Leases(NatsSession& session, const std::string& group, std::string member);

  struct Plan {
    std::vector<TopicPartition> gained;   // claimed now: assign
    std::vector<TopicPartition> give_up;  // above the fair share: revoke, then Release
    std::vector<TopicPartition> lost;     // taken by another member
  };
  // Refresh, then claims and gives up leases towards the fair share.
  // REQUIRES: the session connected. Errors: Unavailable.
  Result<Plan> Step(const std::vector<std::string>& topics, int32_t partitions);
  // Only the heartbeat and the refresh of the leases held (no claim, no
  // give-up): what keeps a member's partitions while it is busy draining.
  // Returns the leases found lost. Errors: Unavailable.
  Result<std::vector<TopicPartition>> Refresh();
  // Forgets and returns the leases not written successfully for kLeaseValid
  // (see above): their partitions are lost. Needs no server.
  std::vector<TopicPartition> Lapsed(Clock::time_point now);
  // Drops the lease of `tp` if it is still ours.
  void Release(const TopicPartition& tp);
  // Releases every lease and the heartbeat, until `deadline`: what is left
  // then expires on its own.
  void Leave(Clock::time_point deadline);
  bool Owns(const TopicPartition& tp) const { return held_.count(tp) != 0; }

 private:
  Status EnsureStream();
  std::string LeaseSubject(const TopicPartition& tp) const;
  struct Held {
    uint64_t seq = 0;               // the lease message's sequence: our last write
    Clock::time_point valid_until;  // that write's send time + kLeaseValid
  };
  // Publishes `tp`'s lease when its last sequence is `expect` (0: empty).
  Result<Held> Write(const TopicPartition& tp, uint64_t expect);
  void Purge(const std::string& subject);

  NatsSession& session_;
  const std::string base_;  // evbus.lease.<group>
  const std::string member_;
  bool stream_ready_ = false;
  std::map<TopicPartition, Held> held_;  // our leases
};

}  // namespace evbus::transport::nats

#endif  // EVBUS_TRANSPORT_NATS_NATS_LEASES_H_
