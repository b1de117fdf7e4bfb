// ReadGroupLag's per-transport halves (see evbus/ops.h).

#ifndef EVBUS_OPS_GROUP_LAG_H_
#define EVBUS_OPS_GROUP_LAG_H_

#include <string>
#include <vector>

#include "evbus/ops.h"

namespace evbus::ops {

Result<std::vector<GroupPartitionLag>> ReadKafkaGroupLag(const Config& config,
                                                         const std::string& group,
                                                         const std::vector<std::string>& topics);
Result<std::vector<GroupPartitionLag>> ReadNatsGroupLag(const Config& config,
                                                        const std::string& group,
                                                        const std::vector<std::string>& topics);

}  // namespace evbus::ops

#endif  // EVBUS_OPS_GROUP_LAG_H_
