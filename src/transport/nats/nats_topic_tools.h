// What tools (evbus dlq) do to a whole topic on JetStream, outside any
// consumer group: read each partition's subject from its first message up to
// its last as of the start, through an ephemeral pull consumer that is
// deleted afterwards (and that the server drops on its own after a minute of
// inactivity, should the process die); and purge each partition's subject up
// to its last sequence as of the start. Works in every nats.layout: a shared
// stream is read and purged by the topic's subjects only.
//
// REQUIRES: the session pinned by the caller.

#ifndef EVBUS_TRANSPORT_NATS_NATS_TOPIC_TOOLS_H_
#define EVBUS_TRANSPORT_NATS_NATS_TOPIC_TOOLS_H_

#include <cstdint>
#include <string>

#include "transport/nats/nats_session.h"

namespace evbus::transport::nats {

// Transport::ReadTopic on NATS. Errors: NotFound (no stream for a partition
// of the topic), Unavailable.
Status ReadWholeTopic(NatsSession& session, const std::string& topic, const TopicVisitor& visit);

// Transport::PurgeTopic on NATS. Errors: NotFound, Unavailable, Internal
// (the server refused, e.g. a stream with DenyPurge).
Result<int64_t> PurgeWholeTopic(NatsSession& session, const std::string& topic);

}  // namespace evbus::transport::nats

#endif  // EVBUS_TRANSPORT_NATS_NATS_TOPIC_TOOLS_H_
