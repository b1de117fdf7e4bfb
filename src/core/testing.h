// Hooks for evbus's own tests and benchmarks; not part of the public API.

#ifndef EVBUS_CORE_TESTING_H_
#define EVBUS_CORE_TESTING_H_

#include <memory>

#include "evbus/event_bus.h"
#include "transport/transport.h"

namespace evbus::testing {

// EventBus::Create over a given transport (e.g. a fault-injecting wrapper).
Result<std::unique_ptr<EventBus>> CreateBusWithTransport(
    const Config& config, std::unique_ptr<transport::Transport> transport);

}  // namespace evbus::testing

#endif  // EVBUS_CORE_TESTING_H_
