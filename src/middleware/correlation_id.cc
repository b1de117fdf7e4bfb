// middleware::CorrelationId: the message's correlation id, current on the
// worker thread while its handler runs; EventBus::Impl's publish paths read
// it (CurrentCorrelationId) to stamp what the handler publishes.

#include <string>

#include "evbus/envelope.h"
#include "evbus/middleware.h"

namespace evbus::middleware {
namespace {

// A view into the message or into the running middleware's frame; empty
// outside a CorrelationId() call. A publish reads only its size when unset.
thread_local std::string_view tls_correlation_id;

class CorrelationScope {
 public:
  explicit CorrelationScope(std::string_view id) : previous_(tls_correlation_id) {
    tls_correlation_id = id;
  }
  ~CorrelationScope() { tls_correlation_id = previous_; }
  CorrelationScope(const CorrelationScope&) = delete;
  CorrelationScope& operator=(const CorrelationScope&) = delete;

 private:
  std::string_view previous_;
};

}  // namespace

std::string_view CurrentCorrelationId() { return tls_correlation_id; }

Middleware CorrelationId() {
  return [](MessageHandler next) -> MessageHandler {
    return [next = std::move(next)](const Message& m) {
      std::string_view id;
      if (m.envelope != nullptr) id = m.envelope->correlation_id;
      if (id.empty()) id = FindHeader(m.record.headers, "X-Correlation-ID").value_or("");
      std::string fresh;
      if (id.empty()) {
        fresh = NewEventId();
        id = fresh;
      }
      CorrelationScope scope(id);
      return next(m);
    };
  };
}

}  // namespace evbus::middleware
