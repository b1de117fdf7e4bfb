// EventBus::Impl: owns every component of one bus and runs its lifecycle.

#ifndef EVBUS_CORE_EVENT_BUS_IMPL_H_
#define EVBUS_CORE_EVENT_BUS_IMPL_H_

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include "core/consumer_loop.h"
#include "core/counters.h"
#include "core/dispatcher.h"
#include "core/in_flight.h"
#include "core/publisher.h"
#include "evbus/event_bus.h"
#include "transport/transport.h"

namespace evbus {

class EventBus::Impl {
 public:
  Impl(const Config& config, uint64_t id, size_t threads_at_create,
       std::unique_ptr<transport::Transport> transport,
       std::unique_ptr<transport::Producer> producer);
  ~Impl();

  Status Publish(Record record, core::Publisher::Meta meta, PublishCallback done);
  Status PublishEnvelope(std::string_view topic, const Envelope& envelope, PublishCallback done);
  Status Subscribe(std::unique_ptr<core::Subscription> sub);
  Status Start();
  Result<CloseReport> Close(std::chrono::milliseconds timeout);
  void SetErrorCallback(ErrorCallback callback);

  BusState state() const { return state_.load(std::memory_order_acquire); }
  uint64_t id() const { return id_; }
  BusStats stats() const { return counters_.Snapshot(); }
  Health health() const;
  const Config& config() const { return config_; }

 private:
  void ReportError(const Status& status);
  // REQUIRES: mu_ held. Starts the consumer side if there is anything to consume.
  Status StartEngineLocked();
  core::ConsumerLoop::Subscriptions SubscriptionsLocked() const;
  CloseReport DoClose(std::chrono::milliseconds timeout);

  const Config config_;
  const uint64_t id_;
  const size_t threads_at_create_;
  std::atomic<BusState> state_{BusState::kCreated};
  core::Counters counters_;
  CancelToken cancel_;

  std::unique_ptr<transport::Transport> transport_;
  core::Publisher publisher_;

  mutable std::mutex mu_;  // subscriptions, engine creation, error callback
  std::map<std::string, std::unique_ptr<core::Subscription>> subs_;
  ErrorCallback error_callback_;
  std::unique_ptr<core::Dispatcher> dispatcher_;
  std::unique_ptr<core::ConsumerLoop> loop_;

  std::mutex close_mu_;
  std::condition_variable close_cv_;
  bool closing_ = false;
  std::optional<CloseReport> close_report_;
};

}  // namespace evbus

#endif  // EVBUS_CORE_EVENT_BUS_IMPL_H_
