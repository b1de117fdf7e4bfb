// The NATS producer: asynchronous JetStream publishes with one completion per
// record, matched to its publish ack by the message.
//
// A record goes to subject <topic>.<p> (p from PartitionForKey, random when
// keyless), with its headers as NATS headers, its key in X-Evbus-Key and its
// X-Event-ID as Nats-Msg-Id (JetStream drops a duplicate within
// nats.duplicate_window). Completions run on cnats's ack thread.

#ifndef EVBUS_TRANSPORT_NATS_NATS_PRODUCER_H_
#define EVBUS_TRANSPORT_NATS_NATS_PRODUCER_H_

#include <memory>

#include "transport/nats/nats_session.h"
#include "transport/nats/nats_streams.h"
#include "transport/transport.h"

namespace evbus::transport::nats {

std::unique_ptr<Producer> NewNatsProducer(NatsSession& session, NatsStreams& streams);

}  // namespace evbus::transport::nats

#endif  // EVBUS_TRANSPORT_NATS_NATS_PRODUCER_H_
