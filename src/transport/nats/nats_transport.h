// The NATS JetStream transport (cnats). See nats_common.h for the stream
// layout, nats_leases.h for how a group shares partitions, nats_session.h for
// the connection's and cnats threads' lifetime.

#ifndef EVBUS_TRANSPORT_NATS_NATS_TRANSPORT_H_
#define EVBUS_TRANSPORT_NATS_NATS_TRANSPORT_H_

#include <memory>
#include <string>

#include "evbus/config.h"
#include "transport/nats/nats_common.h"
#include "transport/transport.h"

namespace evbus::transport {

// Connects lazily (first EnsureTopic, publish or subscribe), so a bus starts
// no cnats thread before it is used. Errors: InvalidArgument (no nats.urls).
Result<std::unique_ptr<Transport>> NewNatsTransport(const Config& config, uint64_t bus_id);

namespace nats {

// For tests and tools: the committed offset (next offset to read) of `group`
// on topic[partition], -1 if nothing is acked yet. Errors: NotFound, Unavailable.
Result<int64_t> CommittedOffset(const Config& config, const std::string& group,
                                const std::string& topic, int32_t partition);

// For tests: deletes every stream of topics starting with `topic_prefix`
// (default layout), so a test re-run on a long-lived server starts clean.
Status DeleteTopics(const Config& config, const std::string& topic_prefix);

// For tests: deletes every stream whose name starts with `name_prefix`
// (e.g. a jxt-layout stream, named by nats.stream).
Status DeleteStreams(const Config& config, const std::string& name_prefix);

// Empty when a server answers at the first of config.nats.urls (a TCP connect
// within connect_timeout, no cnats thread); otherwise why not.
std::string ProbeServer(const NatsConfig& config);

}  // namespace nats
}  // namespace evbus::transport

#endif  // EVBUS_TRANSPORT_NATS_NATS_TRANSPORT_H_
