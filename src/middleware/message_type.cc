#include "middleware/message_type.h"

#include <string>

#include "codec/cloudevents_internal.h"

namespace evbus::middleware_internal {

std::string_view EventTypeOf(const Message& m) {
  if (m.envelope != nullptr) return m.envelope->event_type;
  for (std::string_view name : {"X-Event-Type", "ce_type"}) {
    if (auto type = FindHeader(m.record.headers, name)) return *type;
  }
  // The NATS binding percent-encodes header values (spaces, '%', non-ASCII, ...).
  if (auto type = FindHeader(m.record.headers, "ce-type")) {
    if (type->find_first_of("%\"") == std::string_view::npos) return *type;
    thread_local std::string decoded;
    if (codec::PercentDecode("type", *type, decoded).ok()) return decoded;
    return *type;
  }
  return {};
}

}  // namespace evbus::middleware_internal
