// EventBus::Impl: owns every component of one bus and runs its lifecycle.

#ifndef EVBUS_CORE_EVENT_BUS_IMPL_H_
#define EVBUS_CORE_EVENT_BUS_IMPL_H_

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include "core/consumer_loop.h"
#include "core/counters.h"
#include "core/dispatcher.h"
#include "core/in_flight.h"
#include "core/middleware_metrics.h"
#include "core/periodic_thread.h"
#include "core/publisher.h"
#include "core/transport_relay.h"
#include "evbus/event_bus.h"
#include "ops/backlog.h"
#include "ops/health_monitor.h"
#include "ops/health_publisher.h"
#include "ops/metrics.h"
#include "transport/transport.h"

namespace evbus {

// Hidden in a shared libevbus, though nested in the exported EventBus.
class [[gnu::visibility("hidden")]] EventBus::Impl {
 public:
  Impl(const Config& config, uint64_t id, size_t threads_at_create,
       std::unique_ptr<transport::Transport> transport,
       std::unique_ptr<transport::Producer> producer, std::shared_ptr<core::TransportRelay> relay);
  ~Impl();

  // Wires the transport's error and connection sinks to a relay, before
  // its producer is created (its threads may report at once). The relay
  // holds the reports until Start(), the first publish or Close() opens it.
  static std::shared_ptr<core::TransportRelay> WireSinks(transport::Transport & transport);

  // Applies `options` (headers, partition, timeout) and the publish
  // interceptors (not to the bus's own records, meta.internal), then publishes.
  Status Publish(Record record, core::Publisher::Meta meta, PublishCallback done,
                 const PublishOptions& options = {});
  Status PublishEnvelope(std::string_view topic, const Envelope& envelope, PublishCallback done,
                         const PublishOptions& options = {});
  // Publishing options (bus_publish.cc).
  // Runs `publish` with a callback that records the result, then waits for
  // it until `options`' deadline. Errors: see EventBus::PublishEnvelopeSync.
  Result<PublishResult> PublishSync(const std::function<Status(PublishCallback)>& publish,
                                    std::string_view topic, const PublishOptions& options);
  Status PublishBatch(std::string_view topic, std::span<const Envelope> envelopes,
                      BatchCallback done, const PublishOptions& options);
  Status AddPublishInterceptor(PublishInterceptor interceptor);
  Status Subscribe(std::unique_ptr<core::Subscription> sub);
  Status ConfigureTopic(std::string_view topic, const TopicConfig& settings);
  Status Use(Middleware middleware);
  Status Start();
  Result<CloseReport> Close(std::chrono::milliseconds timeout);
  Status SetErrorCallback(ErrorCallback callback);
  Status SetPublishResultCallback(PublishCallback callback);
  Status SetConnectionCallback(ConnectionCallback callback);
  Status SetBacklogCallback(BacklogCallback callback);
  Status SetHealthAlertCallback(HealthAlertCallback callback);

  // True when publish results need event metadata (a result callback is set).
  bool wants_result_meta() const { return publisher_.has_result_sink(); }
  BacklogState backlog() const;
  std::string MetricsText() const;
  int metrics_port() const { return metrics_port_.load(std::memory_order_acquire); }

  BusState state() const { return state_.load(std::memory_order_acquire); }
  uint64_t id() const { return id_; }
  BusStats stats() const { return counters_.Snapshot(); }
  Health health() const;
  const Config& config() const { return config_; }

 private:
  void ReportError(const Status& status);
  // Sets record's payload and headers to the CloudEvent of `e` in `format`
  // (a CloudEvents one), for this bus's transport. Errors: InvalidArgument.
  Status EncodeCloudEventRecord(const Envelope& e, EventFormat format, Record& record) const;
  // Checks `options` and writes their headers and partition into `record`
  // (a record published without a partition option goes by its key, whatever
  // record.partition says). Errors: InvalidArgument naming the bad value.
  static Status ApplyPublishOptions(const PublishOptions& options, Record& record);
  // REQUIRES: mu_ held. Starts the consumer side if there is anything to consume.
  Status StartEngineLocked();
  core::ConsumerLoop::Subscriptions SubscriptionsLocked() const;
  CloseReport DoClose(std::chrono::milliseconds timeout);
  // REQUIRES: mu_ held. Builds the middleware chain of every subscription
  // that has none yet (bus_middleware.cc).
  Status BuildChainsLocked();

  // Operations (bus_ops.cc).
  // REQUIRES: mu_ held, before the engine starts. Creates the health-check
  // publisher and monitor (subscribing the monitor to its topic).
  Status SetUpHealthChecksLocked();
  // REQUIRES: start_mu_ held, mu_ not held. Idempotent.
  Status StartMetrics();
  // REQUIRES: mu_ held, the engine started.
  void StartOpsThreadLocked();
  // Each joins its threads. REQUIRES: no lock held.
  void StopOpsThread();
  void StopMetrics();
  // One round of the ops thread: health checks, backlog; then callbacks.
  void OpsTick();
  void OnConnectionChange(bool connected, const Status& reason);
  // Lets the transport's reports reach this bus (held ones first): at
  // Start(), the first publish or Close(), whichever comes first. Idempotent.
  void OpenRelay();
  // FailedPrecondition once a callback `what` may no longer be set. REQUIRES: mu_ held.
  Status CheckCallbackSetLocked(std::string_view what, bool before_publish) const;
  ops::MetricsInput CollectMetrics() const;

  // Constant but for config_.topics, which ConfigureTopic writes before
  // Start() and the first publish (so no other thread reads it yet).
  Config config_;
  const uint64_t id_;
  const size_t threads_at_create_;
  std::atomic<BusState> state_{BusState::kCreated};
  core::Counters counters_;
  CancelToken cancel_;

  std::unique_ptr<transport::Transport> transport_;
  core::Publisher publisher_;
  const std::shared_ptr<core::TransportRelay> relay_;
  std::atomic<bool> relay_open_{false};  // a fast check for the publish path

  std::mutex start_mu_;    // one Start() at a time; the metrics listener's creation and end
  mutable std::mutex mu_;  // subscriptions, engine creation, error callback
  std::map<std::string, std::unique_ptr<core::Subscription>> subs_;
  ErrorCallback error_callback_;
  std::vector<Middleware> bus_middleware_;  // EventBus::Use; fixed once started
  core::MiddlewareMetrics middleware_metrics_;
  std::unique_ptr<core::Dispatcher> dispatcher_;
  std::unique_ptr<core::ConsumerLoop> loop_;
  ConnectionCallback connection_callback_;
  BacklogCallback backlog_callback_;
  HealthAlertCallback health_alert_callback_;
  // Written only before the first publish (AddPublishInterceptor), read after.
  std::vector<PublishInterceptor> publish_interceptors_;

  // Operations. Created before Start() returns, destroyed with the bus.
  ops::BacklogBoard backlog_board_;
  ops::BacklogDetector backlog_detector_;
  std::unique_ptr<ops::HealthPublisher> health_publisher_;
  std::unique_ptr<ops::HealthMonitor> health_monitor_;
  std::unique_ptr<ops::MetricsExporter> metrics_exporter_;
  std::atomic<int> metrics_port_{0};
  std::atomic<bool> ops_running_{false};
  core::PeriodicThread ops_thread_;

  mutable std::mutex close_mu_;
  std::condition_variable close_cv_;
  bool closing_ = false;
  std::optional<CloseReport> close_report_;
};

}  // namespace evbus

#endif  // EVBUS_CORE_EVENT_BUS_IMPL_H_
