// The event type of a message as the built-in middlewares label and filter
// it: the envelope's event_type; for a raw record, its X-Event-Type header,
// else the CloudEvents type header (ce_type in Kafka's binary mode, ce-type,
// percent-decoded, in NATS's); empty when it has none.

#ifndef EVBUS_MIDDLEWARE_MESSAGE_TYPE_H_
#define EVBUS_MIDDLEWARE_MESSAGE_TYPE_H_

#include <string_view>

#include "evbus/handler.h"

namespace evbus::middleware_internal {

// A view into `m` (or, for a percent-encoded ce-type, into a per-thread
// buffer), valid as long as `m` is and until the next call on this thread.
std::string_view EventTypeOf(const Message& m);

}  // namespace evbus::middleware_internal

#endif  // EVBUS_MIDDLEWARE_MESSAGE_TYPE_H_
