// The jxt-core health-check message, byte-compatible with its Go
// HealthCheckMessage so Go and C++ services can watch each other:
//   {"messageId":"hc-<unixNano>-<16 hex>","timestamp":"<RFC 3339>",
//    "source":"<service>","eventBusType":"kafka|nats|memory","version":"2.0.0",
//    "metadata":{"checkType":"periodic","instanceId":"<source>-<unixSec>"}}
//
// Thread safety: reentrant.

#ifndef EVBUS_OPS_HEALTH_MESSAGE_H_
#define EVBUS_OPS_HEALTH_MESSAGE_H_

#include <chrono>
#include <map>
#include <string>
#include <string_view>

#include "evbus/status.h"

namespace evbus::ops {

inline constexpr std::string_view kHealthMessageVersion = "2.0.0";
// jxt-core rejects health messages older than this.
inline constexpr std::chrono::minutes kHealthMessageMaxAge{5};

struct HealthMessage {
  std::string message_id;
  std::chrono::system_clock::time_point timestamp{};
  std::string source;
  std::string event_bus_type;  // kafka|nats|memory
  std::string version;
  std::map<std::string, std::string> metadata;
};

// A new periodic message from `source` on a bus of `event_bus_type`.
HealthMessage NewHealthMessage(std::string source, std::string event_bus_type,
                               std::string instance_id);
std::string EncodeHealthMessage(const HealthMessage& m);
// Parses and validates as jxt-core does: messageId, source, eventBusType and
// version non-empty; a timestamp not older than kHealthMessageMaxAge; a known
// bus type. Errors: InvalidArgument saying what is wrong.
Result<HealthMessage> ParseHealthMessage(std::string_view json);

}  // namespace evbus::ops

#endif  // EVBUS_OPS_HEALTH_MESSAGE_H_
