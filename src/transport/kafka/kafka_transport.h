// The Kafka transport: librdkafka producer and consumer behind the transport
// interface. See kafka_producer.h and kafka_consumer.h.

#ifndef EVBUS_TRANSPORT_KAFKA_KAFKA_TRANSPORT_H_
#define EVBUS_TRANSPORT_KAFKA_KAFKA_TRANSPORT_H_

#include <memory>

#include "evbus/config.h"
#include "transport/transport.h"

namespace evbus::transport {

// Errors: InvalidArgument for settings librdkafka rejects (named).
Result<std::unique_ptr<Transport>> NewKafkaTransport(const Config& config, uint64_t bus_id);

}  // namespace evbus::transport

#endif  // EVBUS_TRANSPORT_KAFKA_KAFKA_TRANSPORT_H_
