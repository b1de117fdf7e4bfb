// Built-in middlewares: handler timing into the bus's metrics, exception
// recovery, correlation-id propagation, and a filter by event type.
//
// A Middleware (handler.h) wraps a subscription's handler: bus-wide with
// EventBus::Use, or for one subscription with SubscribeOptions::middleware,
// outermost first, bus-wide ones outside a subscription's own:
//   bus->Use(evbus::middleware::Recoverer());
//   bus->Use(evbus::middleware::CorrelationId());
//   evbus::SubscribeOptions options;
//   options.middleware = {evbus::middleware::Timing(),
//                         evbus::middleware::TypeFilter({"OrderPlaced"})};
//   bus->SubscribeEnvelope("orders", handler, options);
// Retries, dead-lettering, the handler timeout and the rate limit stay in the
// engine, outside every chain: a retry runs the whole chain again, and a
// record that is poison never reaches it.
//
// Thread safety: the functions are thread-safe; the handlers of the
// middlewares they return may run on several worker threads at once.

#ifndef EVBUS_MIDDLEWARE_H_
#define EVBUS_MIDDLEWARE_H_

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "evbus/export.h"
#include "evbus/handler.h"
#include "evbus/status.h"

namespace evbus::middleware {

// Times each call of the rest of the chain into the histogram
//   evbus_handler_seconds{topic,event_type,outcome}
// of the bus that runs it (EventBus::MetricsText and the metrics listener),
// whether or not metrics.enabled is set. event_type is the envelope's, else
// the record's X-Event-Type header (empty when none); outcome is ok, error,
// permanent (kPermanent, kPoison), cancelled, or exception (the call threw;
// the exception goes on to whatever is outside). Past 1000 label sets, new
// ones count under event_type "_other". With a Recoverer() inside it (after
// it in the chain), exceptions are timed as errors. Outside a bus (a chain
// called directly) it records nothing.
EVBUS_EXPORT Middleware Timing();

// Called by Recoverer with the message and the failure it made of an exception.
using ExceptionCallback = std::function<void(const Message& message, const Status& failure)>;

// Catches an exception from the rest of the chain and returns it as a failed
// attempt (kHandlerFailed: retried, then dead-lettered, like any failure)
// whose message names the exception's type and what():
//   HandlerFailed: handler threw std::out_of_range: order 7 has no line 3
// which is then the dead letter's X-Error. `on_exception`, if set, is called
// with that Status on the worker thread (e.g. to log it), for every attempt
// that threw. Without a Recoverer the bus still catches exceptions (a
// handler's exception never escapes into a worker), with only what() in the
// error; the Recoverer adds the type, and middleware outside it sees a
// Status instead of an exception.
EVBUS_EXPORT Middleware Recoverer(ExceptionCallback on_exception = nullptr);

// Makes the message's correlation id current on the worker thread while the
// rest of the chain runs: the envelope's correlation_id, else the record's
// X-Correlation-ID header, else a new id (NewEventId()). Meanwhile, on that
// thread, PublishEnvelope of an envelope with an empty correlation_id
// publishes it with this one, and Publish of a record without an
// X-Correlation-ID header adds one. Work the handler hands to other threads
// must carry the id itself (CurrentCorrelationId()).
EVBUS_EXPORT Middleware CorrelationId();

// The correlation id CorrelationId() made current on this thread; empty when
// none. Valid until the handler returns.
EVBUS_EXPORT std::string_view CurrentCorrelationId();

// Calls the rest of the chain only for messages whose event type is one of
// `event_types`; any other message is settled (OK, counted as handled)
// without it, and counted in evbus_filtered_total{topic,event_type} of the
// bus. The event type is the envelope's event_type; for a raw record, its
// X-Event-Type header, else the CloudEvents ce_type (Kafka binary mode) or
// ce-type header; a record with none has type "" (skipped unless "" is
// listed).
EVBUS_EXPORT Middleware TypeFilter(std::vector<std::string> event_types);

}  // namespace evbus::middleware

#endif  // EVBUS_MIDDLEWARE_H_
