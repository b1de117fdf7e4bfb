// The event type of a message as the built-in middlewares label and filter
// it: the envelope's event_type; for a raw record, its X-Event-Type header,
// else the CloudEvents type header (ce_type in Kafka's binary mode, ce-type
// elsewhere); empty when it has none.

#ifndef EVBUS_MIDDLEWARE_MESSAGE_TYPE_H_
#define EVBUS_MIDDLEWARE_MESSAGE_TYPE_H_

#include <string_view>

#include "evbus/handler.h"

namespace evbus::middleware_internal {

// A view into `m`, valid as long as it is.
std::string_view EventTypeOf(const Message& m);

}  // namespace evbus::middleware_internal

#endif  // EVBUS_MIDDLEWARE_MESSAGE_TYPE_H_
