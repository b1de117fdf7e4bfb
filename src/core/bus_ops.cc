// The bus's operations side: health-check publisher and monitor, backlog
// detection, metrics, connection state. One thread ("evb-ops", started only
// when health checks or a backlog callback need it) runs the periodic work
// and calls the user's callbacks, never under an internal lock.

#include <algorithm>

#include "core/event_bus_impl.h"

namespace evbus {

// Every callback is set before Start(); the error and connection callbacks
// also before the first publish, when the transport's held reports go out.
Status EventBus::Impl::CheckCallbackSetLocked(std::string_view what, bool before_publish) const {
  if (state() != BusState::kCreated) {
    return FailedPrecondition(std::string(what) + " must be set before Start(); the bus is " +
                              std::string(ToString(state())));
  }
  if (before_publish && relay_open_.load(std::memory_order_acquire)) {
    return FailedPrecondition(std::string(what) +
                              " must be set before the first publish, which delivered what the "
                              "transport had reported until then");
  }
  return Status();
}

Status EventBus::Impl::SetPublishResultCallback(PublishCallback callback) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (Status s = CheckCallbackSetLocked("the publish result callback", true); !s.ok()) return s;
  }
  return publisher_.SetResultSink(std::move(callback));
}

Status EventBus::Impl::SetConnectionCallback(ConnectionCallback callback) {
  std::lock_guard<std::mutex> lock(mu_);
  if (Status s = CheckCallbackSetLocked("the connection callback", true); !s.ok()) return s;
  connection_callback_ = std::move(callback);
  return Status();
}

Status EventBus::Impl::SetBacklogCallback(BacklogCallback callback) {
  std::lock_guard<std::mutex> lock(mu_);
  if (Status s = CheckCallbackSetLocked("the backlog callback", false); !s.ok()) return s;
  backlog_callback_ = std::move(callback);
  return Status();
}

Status EventBus::Impl::SetHealthAlertCallback(HealthAlertCallback callback) {
  std::lock_guard<std::mutex> lock(mu_);
  if (Status s = CheckCallbackSetLocked("the health alert callback", false); !s.ok()) return s;
  health_alert_callback_ = std::move(callback);
  return Status();
}

void EventBus::Impl::OnConnectionChange(bool connected, const Status& reason) {
  counters_.connection_changes.fetch_add(1, std::memory_order_relaxed);
  ConnectionEvent event;
  event.transport = std::string(transport_->name());
  event.connected = connected;
  event.reason = reason;
  event.at = std::chrono::system_clock::now();
  ConnectionCallback cb;
  {
    std::lock_guard<std::mutex> lock(mu_);
    cb = connection_callback_;
  }
  if (cb) cb(event);  // off-lock (T2)
}

Status EventBus::Impl::SetUpHealthChecksLocked() {
  const HealthCheckConfig& hc = config_.health_check;
  if (!hc.enabled || health_publisher_ || health_monitor_) return Status();
  if (hc.publish) {
    if (Status s = transport_->EnsureTopic(hc.topic); !s.ok()) return s;
    health_publisher_ = std::make_unique<ops::HealthPublisher>(
        hc, config_.service_name, std::string(transport_->name()),
        [this](Record record, PublishCallback done) {
          core::Publisher::Meta meta;
          meta.internal = true;
          return Publish(std::move(record), std::move(meta), std::move(done));
        });
  }
  if (hc.monitor) {
    if (subs_.count(hc.topic) != 0) {
      return Status(ErrorCode::kAlreadyExists,
                    "health_check.topic " + hc.topic +
                        " already has a handler; the health-check monitor subscribes to it "
                        "(set health_check.monitor: false to handle it yourself)");
    }
    health_monitor_ = std::make_unique<ops::HealthMonitor>(hc);
    auto sub = std::make_unique<core::Subscription>();
    sub->topic = hc.topic;
    sub->ordering = Ordering::kNone;
    sub->retry.max_attempts = 1;
    sub->dead_letter_topic = hc.topic + config_.subscriber.dead_letter_suffix;
    sub->chain_built = true;  // internal: no user middleware (EventBus::Use) around it
    ops::HealthMonitor* monitor = health_monitor_.get();
    sub->record_handler = [monitor](const Record& r, const Delivery&) {
      return monitor->OnRecord(r);
    };
    if (Status s = transport_->EnsureTopic(hc.topic); !s.ok()) return s;
    subs_[hc.topic] = std::move(sub);
  }
  return Status();
}

Status EventBus::Impl::StartMetrics() {
  if (!config_.metrics.enabled || config_.metrics.listen.empty() || metrics_exporter_) {
    return Status();
  }
  auto exporter =
      ops::MetricsExporter::Start(config_.metrics.listen, id_, [this] { return CollectMetrics(); });
  if (!exporter.ok()) return exporter.status();
  metrics_exporter_ = std::move(exporter).value();
  metrics_port_.store(metrics_exporter_->port(), std::memory_order_release);
  return Status();
}

void EventBus::Impl::StartOpsThreadLocked() {
  const bool backlog_wanted = backlog_callback_ != nullptr;
  const bool health = health_publisher_ || health_monitor_;
  if (!health && !backlog_wanted) return;
  std::chrono::nanoseconds period = std::chrono::hours(1);
  // The monitor looks four times per interval, so a miss is seen soon after it happens.
  if (health) period = std::min(period, config_.health_check.interval / 4);
  if (backlog_wanted) period = std::min(period, config_.subscriber.backlog_interval);
  period = std::max(period, std::chrono::nanoseconds(std::chrono::milliseconds(1)));
  ops_running_.store(true, std::memory_order_release);
  ops_thread_.Start("evb-ops", "ops", id_, period, [this] { OpsTick(); });
}

void EventBus::Impl::StopOpsThread() {
  if (ops_running_.exchange(false)) ops_thread_.Stop();
}

void EventBus::Impl::StopMetrics() {
  std::unique_ptr<ops::MetricsExporter> exporter;
  {
    std::lock_guard<std::mutex> start(start_mu_);  // waits for a Start() creating it
    exporter = std::move(metrics_exporter_);
  }
  metrics_port_.store(0, std::memory_order_release);
  exporter.reset();  // joins the listener's threads, with no lock held
}

void EventBus::Impl::OpsTick() {
  const auto now = std::chrono::steady_clock::now();
  if (health_publisher_) health_publisher_->Tick(now);
  std::optional<HealthAlert> alert;
  if (health_monitor_) alert = health_monitor_->Tick(now);
  std::optional<BacklogState> backlog = backlog_detector_.Evaluate(
      backlog_board_.partitions(), counters_.publish_in_flight.load(std::memory_order_relaxed),
      counters_.publish_latency.Take());
  HealthAlertCallback alert_cb;
  BacklogCallback backlog_cb;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (alert) alert_cb = health_alert_callback_;
    if (backlog) backlog_cb = backlog_callback_;
  }
  if (alert && alert_cb) alert_cb(*alert);  // off-lock (T2)
  if (backlog && backlog_cb) backlog_cb(*backlog);
}

BacklogState EventBus::Impl::backlog() const {
  if (ops_running_.load(std::memory_order_acquire)) return backlog_detector_.last();
  // No ops thread: evaluate now, without changing the detector's state.
  ops::BacklogDetector fresh(config_);
  auto s = fresh.Evaluate(backlog_board_.partitions(),
                          counters_.publish_in_flight.load(std::memory_order_relaxed),
                          counters_.publish_latency.Take());
  return s ? *s : fresh.last();
}

ops::MetricsInput EventBus::Impl::CollectMetrics() const {
  ops::MetricsInput in;
  in.service = config_.service_name;
  in.transport = std::string(transport_->name());
  in.state = state();
  in.connected = transport_->connected();
  in.stats = counters_.Snapshot();
  in.publish_latency = counters_.publish_latency.Take();
  in.consume_latency = counters_.consume_latency.Take();
  in.handler_timings = middleware_metrics_.handler_series();
  in.filtered = middleware_metrics_.filtered_series();
  in.backlog = backlog();
  in.health = health();
  in.threads = TakeCensus().ByComponent();
  {
    std::lock_guard<std::mutex> lock(close_mu_);
    in.close = close_report_;
  }
  return in;
}

std::string EventBus::Impl::MetricsText() const { return ops::RenderMetricsText(CollectMetrics()); }

}  // namespace evbus
