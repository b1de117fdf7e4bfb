// What tools (evbus dlq) do to a whole Kafka topic, outside any consumer
// group: read it from each partition's low watermark up to its high
// watermark as of the start, with librdkafka's simple (legacy) consumer on a
// handle without group.id, so no offset can be committed and no group
// appears on the broker; and delete its records up to those high watermarks
// (the DeleteRecords admin request).

#ifndef EVBUS_TRANSPORT_KAFKA_KAFKA_TOPIC_TOOLS_H_
#define EVBUS_TRANSPORT_KAFKA_KAFKA_TOPIC_TOOLS_H_

#include <cstdint>
#include <string>

#include "transport/kafka/kafka_common.h"

namespace evbus::transport::kafka {

// Transport::ReadTopic on Kafka. Each handle it makes is destroyed (and its
// threads joined) before it returns. Errors: NotFound (no such topic),
// Unavailable, Timeout (no record for 30 s before the end was reached).
Status ReadWholeTopic(const Config& config, KafkaShared* shared, uint64_t bus_id,
                      const std::string& topic, const TopicVisitor& visit);

// Transport::PurgeTopic on Kafka. Errors: NotFound, Unavailable, Timeout,
// and a partition's refusal by the broker (e.g. POLICY_VIOLATION on a
// compacted topic), saying how many records were deleted elsewhere.
Result<int64_t> DeleteTopicRecords(const Config& config, KafkaShared* shared, uint64_t bus_id,
                                   const std::string& topic);

}  // namespace evbus::transport::kafka

#endif  // EVBUS_TRANSPORT_KAFKA_KAFKA_TOPIC_TOOLS_H_
