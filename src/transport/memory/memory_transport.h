// The memory transport: Producer and Consumer over a shared MemoryBroker.
// It starts no threads: produce completes on the caller's thread, and a
// consumer polls on the core's consumer thread.

#ifndef EVBUS_TRANSPORT_MEMORY_MEMORY_TRANSPORT_H_
#define EVBUS_TRANSPORT_MEMORY_MEMORY_TRANSPORT_H_

#include <memory>

#include "evbus/config.h"
#include "transport/memory/memory_broker.h"
#include "transport/transport.h"

namespace evbus::transport {

std::unique_ptr<Transport> NewMemoryTransport(const Config& config);

}  // namespace evbus::transport

#endif  // EVBUS_TRANSPORT_MEMORY_MEMORY_TRANSPORT_H_
