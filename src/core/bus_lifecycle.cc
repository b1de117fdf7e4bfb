// The bus lifecycle: created -> running (Start) -> draining (Close) -> closed.
//
// Close order (DESIGN §3): stop intake -> finish queued and running work per
// lane until the drain deadline -> cancel and abandon the rest -> commit the
// frontier -> close the consumer (leave the group) -> join workers and timer
// -> flush and close the producer -> count threads, at once.

#include <cinttypes>
#include <cstdio>
#include <thread>

#include "core/event_bus_impl.h"

namespace evbus {

using Clock = std::chrono::steady_clock;

std::string CloseReport::ToString() const {
  char buf[384];
  std::snprintf(buf, sizeof(buf),
                " in %.1f ms; threads %zu at create, %zu before close, %zu after "
                "(%zu of this bus); drained %" PRIu64 ", abandoned %" PRIu64
                ", partitions committed %" PRIu64 ", uncommitted %" PRIu64
                ", publishes failed on close %" PRIu64,
                static_cast<double>(duration.count()) / 1000.0, threads_at_create,
                threads_before_close, threads_after_close, bus_threads_after_close, drained,
                abandoned, partitions_committed, partitions_uncommitted, publishes_failed_on_close);
  return "close: " + status.ToString() + buf;
}

EventBus::Impl::~Impl() {
  // The facade closes first; this is the safety net for an Impl that never started.
  if (state() != BusState::kClosed) {
    Result<CloseReport> r = Close(std::chrono::milliseconds(0));
    (void)r;
  }
}

Status EventBus::Impl::Start() {
  // Callbacks are set by now: what the transport reported since Create()
  // reaches them first (no lock held: they may call back into the bus).
  OpenRelay();
  std::lock_guard<std::mutex> start(start_mu_);
  if (state() == BusState::kCreated) {
    // The listener first, without mu_: a scrape takes mu_ (through health())
    // under the listener's own lock, so mu_ must never be held around it.
    if (Status e = StartMetrics(); !e.ok()) return e;
  }
  std::lock_guard<std::mutex> lock(mu_);
  const BusState s = state();
  if (s == BusState::kRunning) return FailedPrecondition("bus already started");
  if (s != BusState::kCreated) return Closed("bus is " + std::string(ToString(s)));
  // The users' chains, before the health checks add an internal subscription.
  if (Status e = BuildChainsLocked(); !e.ok()) return e;
  if (Status e = SetUpHealthChecksLocked(); !e.ok()) return e;
  // Assert every topic (and its dead-letter topic) before consuming anything.
  for (const auto& [topic, sub] : subs_) {
    if (Status e = transport_->EnsureTopic(topic); !e.ok()) return e;
    if (Status e = transport_->EnsureTopic(sub->dead_letter_topic); !e.ok()) return e;
  }
  if (Status e = StartEngineLocked(); !e.ok()) return e;
  state_.store(BusState::kRunning, std::memory_order_release);
  StartOpsThreadLocked();
  return Status();
}

Status EventBus::Impl::StartEngineLocked() {
  if (subs_.empty()) return Status();  // a publish-only bus starts no thread
  Result<std::unique_ptr<transport::Consumer>> consumer =
      transport_->CreateConsumer(config_.subscriber.group);
  if (!consumer.ok()) return consumer.status();

  core::DispatcherContext ctx;
  ctx.bus_id = id_;
  ctx.bus_tag = this;
  ctx.workers = config_.subscriber.workers > 0
                    ? config_.subscriber.workers
                    : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  ctx.lanes = static_cast<uint32_t>(config_.subscriber.lanes);
  ctx.counters = &counters_;
  ctx.cancel = &cancel_;
  ctx.producer = &publisher_.producer();
  ctx.report_error = [this](const Status& s) { ReportError(s); };
  ctx.measure_latency = counters_.measure_latency;
  // The loop is created below; releases reach it through this indirection.
  ctx.on_released = [this](const core::InFlight& m, int left) {
    if (loop_) loop_->OnReleased(m, left);
  };
  auto dispatcher = std::make_unique<core::Dispatcher>(std::move(ctx));
  auto loop = std::make_unique<core::ConsumerLoop>(
      id_, config_.subscriber, std::move(consumer).value(), *dispatcher, counters_,
      [this](const Status& s) { ReportError(s); });
  loop->SetBacklogBoard(&backlog_board_,
                        /*with_lag=*/config_.metrics.enabled || backlog_callback_ != nullptr);
  dispatcher->Start();
  dispatcher_ = std::move(dispatcher);
  loop_ = std::move(loop);
  if (Status s = loop_->Start(SubscriptionsLocked()); !s.ok()) {
    dispatcher_->Stop();
    loop_.reset();
    dispatcher_.reset();
    return s;
  }
  return Status();
}

Result<CloseReport> EventBus::Impl::Close(std::chrono::milliseconds timeout) {
  if (core::Dispatcher::OnWorkerOf(this)) {
    return Status(ErrorCode::kWouldDeadlock,
                  "Close() called from one of this bus's handler threads; it would wait for "
                  "itself. Call it from another thread.");
  }
  std::unique_lock<std::mutex> lock(close_mu_);
  if (closing_) {
    close_cv_.wait(lock, [&] { return close_report_.has_value(); });
    return *close_report_;
  }
  closing_ = true;
  lock.unlock();
  CloseReport report = DoClose(timeout);
  lock.lock();
  close_report_ = report;
  close_cv_.notify_all();
  return report;
}

CloseReport EventBus::Impl::DoClose(std::chrono::milliseconds timeout) {
  const auto start = Clock::now();
  const auto deadline = start + timeout;
  const auto drain_deadline = start + timeout * 3 / 4;
  OpenRelay();  // a bus closed without Start() still reports what it held
  CloseReport report;
  report.threads_at_create = threads_at_create_;
  report.threads_before_close = CountProcessThreads();
  const uint64_t settled_before = counters_.handled.load() + counters_.dead_lettered.load();

  {
    std::lock_guard<std::mutex> lock(mu_);  // no Subscribe may start an engine past here
    state_.store(BusState::kDraining, std::memory_order_release);
  }
  // The ops thread first: it publishes health messages and calls callbacks.
  StopOpsThread();
  publisher_.StopAccepting();

  // mu_ is not held below: joins and waits never happen under a lock (T2).
  if (loop_) {
    loop_->StopIntake();
    dispatcher_->SetDraining();
    if (!dispatcher_->WaitQuiet(drain_deadline)) {
      report.status = Status(ErrorCode::kTimeout,
                             "drain did not finish within 3/4 of the close timeout; the rest "
                             "was abandoned uncommitted and will be redelivered");
    }
    cancel_.Cancel();  // handlers still running (none, unless timed out) should return
    dispatcher_->CancelHandlers();
    dispatcher_->AbandonAll();
    const core::ConsumerLoop::FinishReport finished = loop_->Finish(deadline);
    report.partitions_committed = finished.partitions_committed;
    report.partitions_uncommitted = finished.partitions_uncommitted;
    if (report.status.ok() && finished.partitions_uncommitted > 0) {
      report.status =
          Status(finished.status.code(),
                 "the final commit of " + std::to_string(finished.partitions_uncommitted) +
                     " partition(s) did not complete (" + finished.status.ToString() +
                     "); what they handled since their last commit will be redelivered");
    } else if (report.status.ok() && !finished.status.ok()) {
      report.status = finished.status;
    }
    dispatcher_->Stop();
    report.abandoned = dispatcher_->abandoned();
  } else {
    cancel_.Cancel();
  }
  report.publishes_failed_on_close = publisher_.Close(deadline);
  report.drained = counters_.handled.load() + counters_.dead_lettered.load() - settled_before;

  StopMetrics();
  state_.store(BusState::kClosed, std::memory_order_release);
  report.threads_after_close = CountProcessThreads();
  report.bus_threads_after_close = TakeCensus().CountForBus(id_);
  report.duration = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
  return report;
}

Health EventBus::Impl::health() const {
  Health h;
  h.state = state();
  h.transport = std::string(transport_->name());
  h.connected = transport_->connected();
  const ops::HealthPublisher* publisher = nullptr;
  const ops::HealthMonitor* monitor = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);  // Start() creates them under mu_
    h.blocked_lanes = dispatcher_ ? dispatcher_->waiting_lanes() : 0;
    publisher = health_publisher_.get();
    monitor = health_monitor_.get();
  }
  for (const PartitionBacklog& p : backlog_board_.partitions()) h.stalled_partitions += p.stalled;
  if (publisher) h.health_publisher = publisher->status();  // they live as long as the bus
  if (monitor) h.health_monitor = monitor->stats();
  const uint64_t dlq_failures = counters_.dead_letter_failures.load();
  h.healthy = h.state == BusState::kRunning && h.connected;
  if (h.state != BusState::kRunning) {
    h.detail = "bus is " + std::string(ToString(h.state));
  } else if (!h.connected) {
    h.detail = "transport " + h.transport + " is not connected";
  } else if (dlq_failures > 0 && h.blocked_lanes > 0) {
    h.healthy = false;
    h.detail = std::to_string(h.blocked_lanes) +
               " lane(s) waiting; dead-letter publishes have failed " +
               std::to_string(dlq_failures) + " time(s)";
  } else if (h.stalled_partitions > 0) {
    h.healthy = false;
    h.detail = std::to_string(h.stalled_partitions) +
               " partition(s) stalled: commit frontier not moving for subscriber.stall_timeout";
  } else if (h.health_publisher.running && !h.health_publisher.healthy) {
    h.healthy = false;
    h.detail = "health-check publisher failed " +
               std::to_string(h.health_publisher.consecutive_failures) +
               " time(s) in a row: " + h.health_publisher.last_error;
  } else if (h.health_monitor.running && h.health_monitor.severity == AlertSeverity::kCritical) {
    h.healthy = false;
    h.detail = "no health-check message on " + config_.health_check.topic + " for " +
               std::to_string(h.health_monitor.consecutive_misses) + " intervals";
  }
  return h;
}

}  // namespace evbus
