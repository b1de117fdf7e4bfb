// Names and conversions shared by the NATS transport's parts: how a topic and
// partition map to a JetStream stream, subject and durable consumer, and how a
// cnats error becomes a Status.
//
// A partition is one stream (EVBUS_<topic>_P<p>, subject <topic>.<p>) unless
// nats.stream names one stream for everything. A record's offset is its stream
// sequence - 1, so in the default layout offsets are dense per partition and
// start at 0, as in Kafka and the memory broker.

#ifndef EVBUS_TRANSPORT_NATS_NATS_COMMON_H_
#define EVBUS_TRANSPORT_NATS_NATS_COMMON_H_

#include <nats/nats.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "evbus/config.h"
#include "evbus/status.h"

namespace evbus::transport::nats {

// Carries Record::key (NATS has no message key).
inline constexpr char kKeyHeader[] = "X-Evbus-Key";
// Its value becomes Nats-Msg-Id, so JetStream drops a re-published event.
inline constexpr char kEventIdHeader[] = "X-Event-ID";

// Replaces every character outside [A-Za-z0-9_-] by '_' (stream, durable and
// lease-token names allow no more).
std::string Sanitize(std::string_view s);

std::string StreamName(const NatsConfig& config, std::string_view topic, int32_t partition);
std::string Subject(std::string_view topic, int32_t partition);
std::string DurableName(std::string_view group, std::string_view topic, int32_t partition);

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
