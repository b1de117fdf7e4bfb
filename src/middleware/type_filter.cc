// middleware::TypeFilter: only the listed event types reach the handler.

#include <iterator>
#include <memory>
#include <set>

#include "core/middleware_metrics.h"
#include "evbus/middleware.h"
#include "middleware/message_type.h"

namespace evbus::middleware {

Middleware TypeFilter(std::vector<std::string> event_types) {
  auto types = std::make_shared<const std::set<std::string, std::less<>>>(
      std::make_move_iterator(event_types.begin()), std::make_move_iterator(event_types.end()));
  return [types](MessageHandler next) -> MessageHandler {
    return [next = std::move(next), types](const Message& m) {
      const std::string_view type = middleware_internal::EventTypeOf(m);
      if (types->find(type) != types->end()) return next(m);
      // Settled without the handler: not ours to handle, and nothing to retry.
      if (core::MiddlewareMetrics* metrics = core::MiddlewareMetrics::Current()) {
        metrics->CountFiltered(m.record.topic, type);
      }
      return Status();
    };
  };
}

}  // namespace evbus::middleware
