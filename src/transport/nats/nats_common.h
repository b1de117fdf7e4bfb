// Names and conversions shared by the NATS transport's parts: how a topic and
// partition map to a JetStream stream, subject and durable consumer, and how a
// cnats error becomes a Status.
//
// nats.layout partitioned (the default): a partition is one stream
// (EVBUS_<topic>_P<p>, subject <topic>.<p>) unless nats.stream names one
// stream for everything, and has the durable <group>_<topic>_<p>.
// nats.layout jxt (jxt-core's): one stream for the bus (nats.stream, subjects
// nats.subjects), one partition per topic, subject = topic, the durable
// jxt-core's PullSubscribe names "<group>-unified_<topic>".
// A record's offset is its stream sequence - 1, so with a stream per
// partition offsets are dense per partition and start at 0, as in Kafka and
// the memory broker; in a shared stream they have gaps.

#ifndef EVBUS_TRANSPORT_NATS_NATS_COMMON_H_
#define EVBUS_TRANSPORT_NATS_NATS_COMMON_H_

#include <nats/nats.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "evbus/config.h"
#include "evbus/status.h"

namespace evbus::transport::nats {

// How long a fetch that waits for new messages waits, at most. A waiting
// fetch watches one partition (cnats has no pull request that waits on
// several), so a message on another partition with no known backlog waits
// for the round of these fetches to reach it. Not shorter: cnats 3.4 asks
// the server to expire a request 10 ms before the fetch gives up only when
// the fetch waits 20 ms or more; shorter, the server's timeout answer comes
// after the fetch gave up and is left over in the subscription, every time,
// and left-overs in numbers make cnats overrun its result array (see
// SafeBatch). 1 ms slices did that within minutes of an open-loop run.
inline constexpr int64_t kFetchSliceMs = 20;

// How long a no_wait fetch waits for the server's answer. With the messages
// there, the answer comes within a round trip; but nats-server 2.9 answers a
// no_wait request that finds nothing (a backlog count gone stale) only at
// its expiry, which cnats always sends, so the fixed 500 ms expiry showed as
// 500 ms p99 spikes in open-loop runs. The expiry follows the answers
// instead: 4x the moving average of answer times, doubled after each fetch
// that got no answer in time, within 50-500 ms. Not lower: an answer that
// comes after its fetch gave up lands in the subscription as left-overs, up
// to a whole batch, which is what cnats 3.4 must not meet in numbers (see
// SafeBatch); at 2 ms that happened often enough to corrupt the heap.
// Not thread-safe (one per polling thread).
class NoWaitExpiry {
 public:
  std::chrono::milliseconds get() const {
    return std::clamp(std::chrono::duration_cast<std::chrono::milliseconds>(4 * average_),
                      std::chrono::milliseconds(50), std::chrono::milliseconds(500));
  }
  void Answered(std::chrono::nanoseconds took) { average_ += (took - average_) / 8; }
  void NotAnswered() { average_ = std::min<std::chrono::nanoseconds>(2 * average_, kCap); }

 private:
  static constexpr std::chrono::nanoseconds kCap = std::chrono::milliseconds(125);
  std::chrono::nanoseconds average_ = std::chrono::milliseconds(1);
};

// The batch a fetch on `sub` must ask for at least. cnats 3.4 overruns its
// result array (heap corruption) when a fetch starts with messages left over
// from an earlier request (ones that arrived after that fetch gave up, or
// the server's status answers) and those exceed half the batch; so the batch
// is kept above twice what already waits in the subscription. The server
// still stops at MaxAckPending.
inline int SafeBatch(natsSubscription* sub, int batch) {
  int left_over = 0;
  if (natsSubscription_GetPending(sub, &left_over, nullptr) == NATS_OK && left_over > 0) {
    return std::max(batch, 2 * left_over + 1);
  }
  return batch;
}

// Carries Record::key (NATS has no message key).
inline constexpr char kKeyHeader[] = "X-Evbus-Key";
// Its value becomes Nats-Msg-Id, so JetStream drops a re-published event.
inline constexpr char kEventIdHeader[] = "X-Event-ID";

// Replaces every character outside [A-Za-z0-9_-] by '_' (stream, durable and
// lease-token names allow no more).
std::string Sanitize(std::string_view s);

// Partitions per topic: nats.partitions, or 1 in the jxt layout.
int32_t Partitions(const NatsConfig& config);
std::string StreamName(const NatsConfig& config, std::string_view topic, int32_t partition);
std::string Subject(const NatsConfig& config, std::string_view topic, int32_t partition);
std::string DurableName(const NatsConfig& config, std::string_view group, std::string_view topic,
                        int32_t partition);
// The subjects a stream evbus creates for `topic` gets.
std::vector<std::string> StreamSubjects(const NatsConfig& config, std::string_view topic,
                                        int32_t partition);
// Whether `subject` is matched by the NATS subject pattern `pattern` ('*' one
// token, '>' the rest).
bool SubjectMatches(std::string_view pattern, std::string_view subject);

inline int64_t Nanos(Duration d) { return static_cast<int64_t>(d.count()); }
inline int64_t Millis(Duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

// "<what>: <cnats text> (<last error detail>)[, JetStream error N]", coded
// Unavailable for connection problems and timeouts, NotFound for missing
// streams/consumers, Internal otherwise.
Status NatsError(std::string_view what, natsStatus s, jsErrCode jerr = static_cast<jsErrCode>(0));

}  // namespace evbus::transport::nats

#endif  // EVBUS_TRANSPORT_NATS_NATS_COMMON_H_
