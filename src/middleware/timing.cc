// middleware::Timing: handler durations into the running bus's
// evbus_handler_seconds (core::MiddlewareMetrics says how the bus is found).

#include <chrono>

#include "core/middleware_metrics.h"
#include "evbus/middleware.h"
#include "middleware/message_type.h"

namespace evbus::middleware {
namespace {

std::string_view OutcomeOf(const Status& s) {
  switch (s.code()) {
    case ErrorCode::kOk:
      return "ok";
    case ErrorCode::kPermanent:
    case ErrorCode::kPoison:
      return "permanent";
    case ErrorCode::kCancelled:
      return "cancelled";
    default:
      return "error";
  }
}

}  // namespace

Middleware Timing() {
  return [](MessageHandler next) -> MessageHandler {
    return [next = std::move(next)](const Message& m) {
      core::MiddlewareMetrics* metrics = core::MiddlewareMetrics::Current();
      if (metrics == nullptr) return next(m);
      const auto start = std::chrono::steady_clock::now();
      const auto observe = [&](std::string_view outcome) {
        metrics->ObserveHandler(m.record.topic, middleware_internal::EventTypeOf(m), outcome,
                                std::chrono::steady_clock::now() - start);
      };
      Status s;
      try {
        s = next(m);
      } catch (...) {
        observe("exception");
        throw;
      }
      observe(OutcomeOf(s));
      return s;
    };
  };
}

}  // namespace evbus::middleware
