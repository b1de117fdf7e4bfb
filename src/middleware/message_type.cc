#include "middleware/message_type.h"

namespace evbus::middleware_internal {

std::string_view EventTypeOf(const Message& m) {
  if (m.envelope != nullptr) return m.envelope->event_type;
  for (std::string_view name : {"X-Event-Type", "ce_type", "ce-type"}) {
    if (auto type = FindHeader(m.record.headers, name)) return *type;
  }
  return {};
}

}  // namespace evbus::middleware_internal
