#include "core/middleware_chain.h"

#include <string>

namespace evbus::core {
namespace {

// Wraps `chain` in `layers` from the last to the first, so layers[0] ends up
// outermost. `where` names the list in errors ("<where>[i]").
Status Wrap(MessageHandler& chain, const std::vector<Middleware>& layers, const std::string& topic,
            const char* where) {
  for (size_t i = layers.size(); i-- > 0;) {
    chain = layers[i](std::move(chain));
    if (!chain) {
      return InvalidArgument("subscription " + topic + ": " + where + "[" + std::to_string(i) +
                             "] returned a null handler");
    }
  }
  return Status();
}

}  // namespace

Status BuildMiddlewareChain(Subscription& sub, const std::vector<Middleware>& bus_wide,
                            MiddlewareMetrics* metrics) {
  if (sub.chain_built || (bus_wide.empty() && sub.middleware.empty())) return Status();
  // Copies, so that `sub` is untouched if a middleware fails.
  MessageHandler chain;
  if (sub.envelope_handler) {
    chain = [handler = sub.envelope_handler](const Message& m) {
      return handler(*m.envelope, m.delivery);
    };
  } else {
    chain = [handler = sub.record_handler](const Message& m) {
      return handler(m.record, m.delivery);
    };
  }
  if (Status s = Wrap(chain, sub.middleware, sub.topic, "SubscribeOptions::middleware"); !s.ok()) {
    return s;
  }
  if (Status s = Wrap(chain, bus_wide, sub.topic, "Use() middleware"); !s.ok()) {
    return s;
  }
  if (sub.envelope_handler) {
    sub.envelope_handler = [chain = std::move(chain), metrics](const Envelope& e,
                                                               const Delivery& d) {
      MiddlewareMetrics::Scope scope(metrics);
      return chain(Message{d.record, &e, d});
    };
  } else {
    sub.record_handler = [chain = std::move(chain), metrics](const Record& r, const Delivery& d) {
      MiddlewareMetrics::Scope scope(metrics);
      return chain(Message{r, nullptr, d});
    };
  }
  sub.chain_built = true;
  return Status();
}

}  // namespace evbus::core
