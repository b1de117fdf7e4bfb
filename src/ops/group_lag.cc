#include "ops/group_lag.h"

#include <algorithm>

namespace evbus {

Result<std::vector<GroupPartitionLag>> ReadGroupLag(const Config& config, const std::string& group,
                                                    const std::vector<std::string>& topics) {
  if (group.empty()) return InvalidArgument("group lag: the group is empty");
  Result<std::vector<GroupPartitionLag>> out = InvalidArgument("unknown transport");
  switch (config.transport) {
    case TransportKind::kMemory:
      return InvalidArgument(
          "group lag: the memory broker lives inside one process; ask its bus (EventBus::backlog)");
    case TransportKind::kKafka:
#ifdef EVBUS_WITH_KAFKA
      out = ops::ReadKafkaGroupLag(config, group, topics);
#else
      return Status(ErrorCode::kNotImplemented, "transport kafka is not built into this evbus");
#endif
      break;
    case TransportKind::kNats:
#ifdef EVBUS_WITH_NATS
      out = ops::ReadNatsGroupLag(config, group, topics);
#else
      return Status(ErrorCode::kNotImplemented, "transport nats is not built into this evbus");
#endif
      break;
  }
  if (out.ok()) {
    std::sort(out->begin(), out->end(), [](const GroupPartitionLag& a, const GroupPartitionLag& b) {
      return a.topic != b.topic ? a.topic < b.topic : a.partition < b.partition;
    });
  }
  return out;
}

}  // namespace evbus
