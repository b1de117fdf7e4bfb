// The bus's middleware: bus-wide middleware (EventBus::Use) and building
// each subscription's chain before the engine runs it.

#include "core/event_bus_impl.h"
#include "core/middleware_chain.h"

namespace evbus {

Status EventBus::Impl::Use(Middleware middleware) {
  if (!middleware) return InvalidArgument("Use: middleware is null");
  std::lock_guard<std::mutex> lock(mu_);
  if (state() != BusState::kCreated) {
    // The chains of running subscriptions are built; they never change.
    return FailedPrecondition("Use(middleware) must be called before Start(); the bus is " +
                              std::string(ToString(state())));
  }
  bus_middleware_.push_back(std::move(middleware));
  return Status();
}

Status EventBus::Impl::BuildChainsLocked() {
  for (auto& [topic, sub] : subs_) {
    if (Status s = core::BuildMiddlewareChain(*sub, bus_middleware_, &middleware_metrics_);
        !s.ok()) {
      return s;
    }
  }
  return Status();
}

}  // namespace evbus
