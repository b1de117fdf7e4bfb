// The middleware chain of a subscription (SubscribeOptions::middleware and
// EventBus::Use), built once around its handler before the engine runs it.
// The dispatcher only ever sees a handler: with no middleware it is the
// user's own, called directly.

#ifndef EVBUS_CORE_MIDDLEWARE_CHAIN_H_
#define EVBUS_CORE_MIDDLEWARE_CHAIN_H_

#include <vector>

#include "core/in_flight.h"
#include "core/middleware_metrics.h"
#include "evbus/handler.h"

namespace evbus::core {

// Replaces the handler of `sub` with the chain `bus_wide` + sub.middleware
// (outermost first) around it, and sets sub.chain_built. The chain's
// outermost wrapper makes `metrics` current (MiddlewareMetrics::Scope) for
// each call. Does nothing when there is no middleware or the chain is built.
// On error `sub` is unchanged.
// Errors: InvalidArgument naming the topic and the middleware's position
// when a middleware returns a null handler.
Status BuildMiddlewareChain(Subscription& sub, const std::vector<Middleware>& bus_wide,
                            MiddlewareMetrics* metrics);

}  // namespace evbus::core

#endif  // EVBUS_CORE_MIDDLEWARE_CHAIN_H_
