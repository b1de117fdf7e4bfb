// The NATS consumer: one member of a consumer group over JetStream pull
// consumers, one durable consumer per partition (<group>_<topic>_<p>, filter
// <topic>.<p>, explicit acks, MaxAckPending = 2 x subscriber.window), owned by one
// member at a time through Leases (nats_leases.h).
//
// Offsets are stream sequence - 1. A fetched message is held (seq -> natsMsg)
// until Commit(next_offset) acks every held message below next_offset; held
// messages are kept from redelivery with InProgress before ack_wait runs out.
// A partition given up Naks what it still holds, so its next owner gets it
// at once. A member taking over a durable consumer with unacked deliveries
// (its owner died) recreates it at the ack floor, so they come again in log
// order before anything newer. While the polling thread is away (draining
// on close or revoke), a keeper thread refreshes the leases and keeps held
// messages alive.

#ifndef EVBUS_TRANSPORT_NATS_NATS_CONSUMER_H_
#define EVBUS_TRANSPORT_NATS_NATS_CONSUMER_H_

#include <memory>
#include <string>

#include "transport/nats/nats_session.h"
#include "transport/nats/nats_streams.h"
#include "transport/transport.h"

namespace evbus::transport::nats {

std::unique_ptr<Consumer> NewNatsConsumer(NatsSession& session, NatsStreams& streams,
                                          const std::string& group);

}  // namespace evbus::transport::nats

#endif  // EVBUS_TRANSPORT_NATS_NATS_CONSUMER_H_
