#include "transport/transport.h"

#include "transport/memory/memory_transport.h"
#ifdef EVBUS_WITH_KAFKA
#include "transport/kafka/kafka_transport.h"
#endif
#ifdef EVBUS_WITH_NATS
#include "transport/nats/nats_transport.h"
#endif

namespace evbus::transport {

std::string ToString(const TopicPartition& tp) {
  return tp.topic + "[" + std::to_string(tp.partition) + "]";
}

int32_t PartitionForKey(std::string_view key, int32_t partitions) {
  uint32_t h = 2166136261u;  // FNV-1a 32-bit, as Go's hash/fnv New32a
  for (char c : key) {
    h ^= static_cast<unsigned char>(c);
    h *= 16777619u;
  }
  int32_t p = static_cast<int32_t>(h) % partitions;
  return p < 0 ? -p : p;
}

Status CheckTopicPartitions(std::string_view transport, const std::string& topic, int32_t have,
                            int32_t want, std::string_view setting, TopicStrategy strategy) {
  if (have == want) return Status();
  if (strategy != TopicStrategy::kValidateOnly && strategy != TopicStrategy::kCreateOrUpdate) {
    return Status();
  }
  return FailedPrecondition(
      std::string(transport) + " topic " + topic + " has " + std::to_string(have) +
      " partitions, expected " + std::to_string(want) + " (" + std::string(setting) +
      "); topic_strategy " + std::string(ToString(strategy)) +
      " never changes a topic's partitions (adding partitions moves keys and breaks per-key "
      "order): repartition it yourself, or set " +
      std::string(setting) + " to " + std::to_string(have));
}

TopicTable::TopicTable(const std::map<std::string, TopicConfig>& topics) {
  for (const auto& [topic, settings] : topics) Set(topic, settings);
}

const TopicConfig& TopicTable::Get(std::string_view topic) const {
  static const TopicConfig kDefaults;
  auto it = topics_.find(topic);
  return it == topics_.end() ? kDefaults : it->second;
}

void TopicTable::Set(const std::string& topic, const TopicConfig& settings) {
  topics_[topic] = settings;
  any_ephemeral_ = any_ephemeral_ || settings.persistence == Persistence::kEphemeral;
}

namespace {

Result<std::unique_ptr<Transport>> NewTransport(const Config& config,
                                                [[maybe_unused]] uint64_t bus_id) {
  switch (config.transport) {
    case TransportKind::kMemory:
      return NewMemoryTransport(config);
    case TransportKind::kKafka:
#ifdef EVBUS_WITH_KAFKA
      return NewKafkaTransport(config, bus_id);
#else
      return Status(ErrorCode::kNotImplemented, "transport kafka is not built into this evbus");
#endif
    case TransportKind::kNats:
#ifdef EVBUS_WITH_NATS
      return NewNatsTransport(config, bus_id);
#else
      return Status(ErrorCode::kNotImplemented, "transport nats is not built into this evbus");
#endif
  }
  return InvalidArgument("unknown transport");
}

}  // namespace

Result<std::unique_ptr<Transport>> CreateTransport(const Config& config, uint64_t bus_id) {
  Result<std::unique_ptr<Transport>> transport = NewTransport(config, bus_id);
  if (!transport.ok()) return transport;
  for (const auto& [topic, settings] : config.topics) (*transport)->topics()->Set(topic, settings);
  return transport;
}

}  // namespace evbus::transport
