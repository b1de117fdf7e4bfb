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
#include "evbus/record.h"
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
// GuardedFetch). 1 ms slices did that within minutes of an open-loop run.
inline constexpr int64_t kFetchSliceMs = 20;

// How long a no_wait fetch waits for the server's answer: it comes at once
// unless the server is stalled, and an answer that comes after its fetch gave
// up is left over in the subscription, up to a whole batch (see
// GuardedFetch). A shorter wait turns a stalled server's answers into such
// left-overs.
inline constexpr int64_t kNoWaitAnswerMs = 500;
// How long each JetStream API request of a consumer's reattach (after lost
// deliveries) waits, on the polling thread its member's partitions share.
inline constexpr int64_t kReattachWaitMs = 1000;

// natsSubscription_FetchRequest, guarded against cnats 3.4's result-array
// overrun (heap corruption): a fetch that takes more messages from the
// subscription's queue before sending its request than half its batch then
// waits for batch - taken more and counts to the wrong end. Those messages
// came after an earlier fetch gave up: the ones already queued, and up to
// `may_arrive` still on their way. So the batch is raised above twice both
// (the server still stops at MaxAckPending). Then `may_arrive` is updated:
// a fetch that ended before its deadline was ended by the server (a full
// answer or its timeout status), which answers a subscription's requests in
// order, so nothing more is on its way (0); one that gave up at its deadline
// may still get what it asked for and did not get (at most `cap` in all).
inline natsStatus GuardedFetch(natsMsgList* list, natsSubscription* sub, jsFetchRequest* fr,
                               int64_t& may_arrive, int64_t cap) {
  int queued = 0;
  if (natsSubscription_GetPending(sub, &queued, nullptr) != NATS_OK) queued = 0;
  const int64_t late = std::max(0, queued) + may_arrive;
  if (late > 0) fr->Batch = static_cast<int>(std::max<int64_t>(fr->Batch, 2 * late + 1));
  const int asked = fr->Batch;  // cnats lowers fr->Batch by what it takes from the queue
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::nanoseconds(fr->Expires) -
                        std::chrono::milliseconds(1);
  const natsStatus s = natsSubscription_FetchRequest(list, sub, fr);
  const int got = s == NATS_OK ? list->Count : 0;
  const bool gave_up = got < asked && std::chrono::steady_clock::now() >= deadline;
  may_arrive = gave_up ? std::min(may_arrive + (asked - got), cap) : 0;
  return s;
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

// Fills `r`'s key (from kKeyHeader) and headers (every other one but
// Nats-Msg-Id) from `msg`, as a consumer hands them out, over what `r` held.
void FillKeyAndHeaders(natsMsg* msg, Record& r);
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
