// EventBus: the public facade, plus the Impl's publish and subscribe paths.
// The lifecycle (Start, Close) is in bus_lifecycle.cc.

#include "evbus/event_bus.h"

#include <cstdio>
#include <thread>

#include "codec/envelope_headers.h"
#include "config/topic_fields.h"
#include "core/event_bus_impl.h"
#include "core/middleware_chain.h"
#include "core/reaper.h"
#include "core/testing.h"
#include "core/thread.h"
#include "evbus/cloudevents.h"
#include "evbus/middleware.h"

namespace evbus {

std::string_view ToString(BusState state) {
  switch (state) {
    case BusState::kCreated:
      return "created";
    case BusState::kRunning:
      return "running";
    case BusState::kDraining:
      return "draining";
    case BusState::kClosed:
      return "closed";
  }
  return "unknown";
}

// ---------------------------------------------------------------- facade

Result<std::unique_ptr<EventBus>> EventBus::Create(const Config& config) {
  if (Status s = ValidateConfig(config); !s.ok()) return s;
  const size_t threads_at_create = CountProcessThreads();
  const uint64_t id = core::NextBusId();
  Result<std::unique_ptr<transport::Transport>> t = transport::CreateTransport(config, id);
  if (!t.ok()) return t.status();
  return CreateWithTransport(config, id, threads_at_create, std::move(t).value());
}

Result<std::unique_ptr<EventBus>> EventBus::CreateWithTransport(
    const Config& config, uint64_t id, size_t threads_at_create,
    std::unique_ptr<transport::Transport> t) {
  std::shared_ptr<core::TransportRelay> relay = Impl::WireSinks(*t);
  // CreateTransport did this already; transports made by tests have none yet.
  for (const auto& [topic, settings] : config.topics) t->topics()->Set(topic, settings);
  Result<std::unique_ptr<transport::Producer>> producer = t->CreateProducer();
  if (!producer.ok()) return producer.status();
  auto impl = std::make_unique<Impl>(config, id, threads_at_create, std::move(t),
                                     std::move(producer).value(), std::move(relay));
  return std::unique_ptr<EventBus>(new EventBus(std::move(impl)));
}

namespace testing {

Result<std::unique_ptr<EventBus>> CreateBusWithTransport(
    const Config& config, std::unique_ptr<transport::Transport> transport) {
  if (Status s = ValidateConfig(config); !s.ok()) return s;
  return EventBus::CreateWithTransport(config, core::NextBusId(), CountProcessThreads(),
                                       std::move(transport));
}

}  // namespace testing

EventBus::EventBus(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

namespace {

// Close(), or the destructor: the configured close_timeout.
Result<CloseReport> CloseInConfiguredTime(EventBus::Impl& impl) {
  return impl.Close(
      std::chrono::duration_cast<std::chrono::milliseconds>(impl.config().close_timeout));
}

}  // namespace

EventBus::~EventBus() {
  if (core::Dispatcher::OnWorkerOf(impl_.get()) && impl_->state() != BusState::kClosed) {
    // On one of this bus's handler threads Close would wait for itself: a
    // reaper thread closes the bus once this handler has returned, then frees it.
    const uint64_t id = impl_->id();
    std::shared_ptr<Impl> impl = std::move(impl_);
    core::Reap(id, [impl]() mutable {
      (void)CloseInConfiguredTime(*impl);
      impl.reset();
    });
    return;
  }
  if (impl_ && impl_->state() != BusState::kClosed) (void)CloseInConfiguredTime(*impl_);
}

Status EventBus::Publish(Record record, PublishCallback done) {
  core::Publisher::Meta meta;
  if (done || impl_->wants_result_meta()) {
    meta.aggregate_id = record.key;
    if (auto id = FindHeader(record.headers, "X-Event-ID")) meta.event_id = *id;
    if (auto type = FindHeader(record.headers, "X-Event-Type")) meta.event_type = *type;
  }
  return impl_->Publish(std::move(record), std::move(meta), std::move(done));
}

Status EventBus::PublishEnvelope(std::string_view topic, const Envelope& envelope,
                                 PublishCallback done) {
  return impl_->PublishEnvelope(topic, envelope, std::move(done));
}

Status EventBus::Publish(Record record, PublishCallback done, const PublishOptions& options) {
  core::Publisher::Meta meta;
  if (done || impl_->wants_result_meta()) {
    meta.aggregate_id = record.key;
    if (auto id = FindHeader(record.headers, "X-Event-ID")) meta.event_id = *id;
    if (auto type = FindHeader(record.headers, "X-Event-Type")) meta.event_type = *type;
  }
  return impl_->Publish(std::move(record), std::move(meta), std::move(done), options);
}

Status EventBus::PublishEnvelope(std::string_view topic, const Envelope& envelope,
                                 PublishCallback done, const PublishOptions& options) {
  return impl_->PublishEnvelope(topic, envelope, std::move(done), options);
}

namespace {

// A subscription with every option resolved against the configuration.
Result<std::unique_ptr<core::Subscription>> MakeSubscription(std::string_view topic,
                                                             bool has_handler,
                                                             const SubscribeOptions& options,
                                                             Ordering default_ordering,
                                                             const Config& config) {
  if (topic.empty()) return InvalidArgument("subscribe: topic is empty");
  if (!has_handler) {
    return InvalidArgument("subscribe to " + std::string(topic) + ": handler is null");
  }
  auto sub = std::make_unique<core::Subscription>();
  sub->topic = topic;
  auto settings = config.topics.find(sub->topic);
  const TopicConfig topic_settings =
      settings == config.topics.end() ? TopicConfig() : settings->second;
  sub->ordering = options.ordering.value_or(topic_settings.ordering.value_or(default_ordering));
  sub->retry = options.retry.value_or(config.subscriber.retry);
  sub->dead_letter_topic = options.dead_letter_topic.empty()
                               ? std::string(topic) + config.subscriber.dead_letter_suffix
                               : options.dead_letter_topic;
  if (auto dlq = config.topics.find(sub->dead_letter_topic);
      dlq != config.topics.end() && dlq->second.persistence == Persistence::kEphemeral) {
    return InvalidArgument("subscribe to " + std::string(topic) + ": its dead-letter topic " +
                           sub->dead_letter_topic +
                           " is ephemeral, and nothing would keep a dead letter; make it "
                           "persistent");
  }
  const double rate = options.rate_limit.value_or(config.subscriber.rate_limit);
  if (rate < 0) {
    return InvalidArgument("subscribe to " + std::string(topic) + ": rate_limit " +
                           std::to_string(rate) + " is negative");
  }
  sub->limiter =
      ops::RateLimiter::Make(rate, options.rate_burst.value_or(config.subscriber.rate_burst));
  sub->handler_timeout = options.handler_timeout.value_or(config.subscriber.handler_timeout);
  sub->payload_format = options.payload_format.value_or(
      topic_settings.payload_format.value_or(config.subscriber.payload_format));
  for (size_t i = 0; i < options.middleware.size(); ++i) {
    if (!options.middleware[i]) {
      return InvalidArgument("subscribe to " + std::string(topic) + ": middleware[" +
                             std::to_string(i) + "] is null");
    }
  }
  sub->middleware = options.middleware;
  if (sub->handler_timeout.count() < 0) {
    return InvalidArgument("subscribe to " + std::string(topic) + ": handler_timeout " +
                           std::to_string(sub->handler_timeout.count()) + "ns is negative");
  }
  return sub;
}

}  // namespace

Status EventBus::Subscribe(std::string_view topic, RecordHandler handler,
                           SubscribeOptions options) {
  const Config& config = impl_->config();
  auto sub =
      MakeSubscription(topic, handler != nullptr, options, config.subscriber.ordering, config);
  if (!sub.ok()) return sub.status();
  (*sub)->record_handler = std::move(handler);
  return impl_->Subscribe(std::move(sub).value());
}

Status EventBus::SubscribeEnvelope(std::string_view topic, EnvelopeHandler handler,
                                   SubscribeOptions options) {
  // Envelopes default to per-key order: the key is the aggregate id.
  auto sub =
      MakeSubscription(topic, handler != nullptr, options, Ordering::kPerKey, impl_->config());
  if (!sub.ok()) return sub.status();
  (*sub)->envelope_handler = std::move(handler);
  return impl_->Subscribe(std::move(sub).value());
}

Status EventBus::ConfigureTopic(std::string_view topic, const TopicConfig& settings) {
  return impl_->ConfigureTopic(topic, settings);
}

Status EventBus::Use(Middleware middleware) { return impl_->Use(std::move(middleware)); }

Status EventBus::Start() { return impl_->Start(); }

Result<CloseReport> EventBus::Close() { return CloseInConfiguredTime(*impl_); }

Result<CloseReport> EventBus::Close(std::chrono::milliseconds timeout) {
  return impl_->Close(timeout);
}

Status EventBus::SetErrorCallback(ErrorCallback callback) {
  return impl_->SetErrorCallback(std::move(callback));
}
Status EventBus::SetPublishResultCallback(PublishCallback callback) {
  return impl_->SetPublishResultCallback(std::move(callback));
}
Status EventBus::SetConnectionCallback(ConnectionCallback callback) {
  return impl_->SetConnectionCallback(std::move(callback));
}
Status EventBus::SetBacklogCallback(BacklogCallback callback) {
  return impl_->SetBacklogCallback(std::move(callback));
}
Status EventBus::SetHealthAlertCallback(HealthAlertCallback callback) {
  return impl_->SetHealthAlertCallback(std::move(callback));
}
BacklogState EventBus::backlog() const { return impl_->backlog(); }
std::string EventBus::MetricsText() const { return impl_->MetricsText(); }
int EventBus::metrics_port() const { return impl_->metrics_port(); }

BusState EventBus::state() const { return impl_->state(); }
uint64_t EventBus::id() const { return impl_->id(); }
BusStats EventBus::stats() const { return impl_->stats(); }
Health EventBus::health() const { return impl_->health(); }

// ---------------------------------------------------------------- Impl: publish & subscribe

EventBus::Impl::Impl(const Config& config, uint64_t id, size_t threads_at_create,
                     std::unique_ptr<transport::Transport> transport,
                     std::unique_ptr<transport::Producer> producer,
                     std::shared_ptr<core::TransportRelay> relay)
    : config_(config),
      id_(id),
      threads_at_create_(threads_at_create),
      transport_(std::move(transport)),
      publisher_(std::move(producer), config.publisher, counters_),
      relay_(std::move(relay)),
      backlog_detector_(config) {
  // Before any thread: the publish and consume paths read it unsynchronised.
  counters_.measure_latency =
      config.metrics.enabled || config.publisher.backlog_latency.count() > 0;
}

std::shared_ptr<core::TransportRelay> EventBus::Impl::WireSinks(transport::Transport& t) {
  auto relay = std::make_shared<core::TransportRelay>();
  t.SetErrorSink([relay](const Status& s) { relay->Error(s); });
  t.SetConnectionSink(
      [relay](bool connected, const Status& reason) { relay->Connection(connected, reason); });
  return relay;
}

void EventBus::Impl::OpenRelay() {
  if (relay_open_.load(std::memory_order_acquire)) return;
  // The transport is a member of this Impl and is closed (its threads
  // joined) before the Impl goes away, so `this` outlives every report.
  core::TransportRelay::Targets targets;
  targets.error = [this](const Status& s) { ReportError(s); };
  targets.connection = [this](bool connected, const Status& reason) {
    OnConnectionChange(connected, reason);
  };
  relay_->Open(std::move(targets));
  relay_open_.store(true, std::memory_order_release);
}

Status EventBus::Impl::Publish(Record record, core::Publisher::Meta meta, PublishCallback done,
                               const PublishOptions& options) {
  if (record.topic.empty()) return InvalidArgument("publish: record.topic is empty");
  if (Status s = ApplyPublishOptions(options, record); !s.ok()) return s;
  // Inside a handler under middleware::CorrelationId: its id goes along.
  if (const std::string_view cid = middleware::CurrentCorrelationId();
      !cid.empty() && !FindHeader(record.headers, "X-Correlation-ID")) {
    record.headers.push_back({"X-Correlation-ID", std::string(cid)});
  }
  // A publish-only bus need not be started: its first publish opens the relay.
  if (!relay_open_.load(std::memory_order_acquire)) OpenRelay();
  const BusState s = state();
  if (s == BusState::kDraining || s == BusState::kClosed) {
    return Closed("bus is " + std::string(ToString(s)) + "; publish refused");
  }
  if (!meta.internal) {
    for (const PublishInterceptor& intercept : publish_interceptors_) intercept(record);
  }
  return publisher_.Publish(std::move(record), std::move(meta), std::move(done), options.timeout);
}

Status EventBus::Impl::PublishEnvelope(std::string_view topic, const Envelope& envelope,
                                       PublishCallback done, const PublishOptions& options) {
  // Inside a handler under middleware::CorrelationId, an envelope without a
  // correlation id gets the handler's (a copy, made only then).
  std::optional<Envelope> correlated;
  if (const std::string_view cid = middleware::CurrentCorrelationId();
      !cid.empty() && envelope.correlation_id.empty()) {
    correlated.emplace(envelope).correlation_id = cid;
  }
  const Envelope& e = correlated ? *correlated : envelope;
  Record record;
  record.topic = topic;
  const PublisherConfig& pc = config_.publisher;
  // The topic's settings (topics.<name>): its format, and for envelopes its payload form.
  const TopicConfig& settings = transport_->topics()->Get(topic);
  if (settings.format == EventFormat::kEnvelope) {
    const PayloadFormat format = settings.payload_format.value_or(pc.payload_format);
    if (Status s = EncodeEnvelope(e, record.payload, format, pc.jxt_compat); !s.ok()) {
      return s;
    }
    codec::AppendEnvelopeHeaders(e, record.headers, pc.jxt_compat);
  } else if (Status s = EncodeCloudEventRecord(e, settings.format, record); !s.ok()) {
    return s;
  }
  record.key = e.aggregate_id;
  core::Publisher::Meta meta;
  if (done || wants_result_meta()) meta = {e.event_id, e.aggregate_id, e.event_type};
  return Publish(std::move(record), std::move(meta), std::move(done), options);
}

Status EventBus::Impl::EncodeCloudEventRecord(const Envelope& e, EventFormat format,
                                              Record& record) const {
  // Any bytes travel in a CloudEvent (datacontenttype says what they are), so
  // only the payload's JSON form is not required: payload_format and
  // jxt_compat are the envelope format's settings.
  if (Status s = Validate(e, PayloadFormat::kBase64); !s.ok()) return s;
  const bool nats = config_.transport == TransportKind::kNats;
  const CloudEventMode mode = format == EventFormat::kCloudEventsStructured
                                  ? CloudEventMode::kStructured
                                  : CloudEventMode::kBinary;
  if (Status s =
          EncodeCloudEvent(CloudEventFromEnvelope(e, config_.service_name), mode,
                           nats ? CloudEventBinding::kNats : CloudEventBinding::kKafka, record);
      !s.ok()) {
    return s;
  }
  // JetStream de-duplicates by event id, as for envelopes (X-Event-ID becomes
  // Nats-Msg-Id there); the consumer does not pass this header on.
  if (nats) record.headers.push_back({"Nats-Msg-Id", e.event_id});
  return Status();
}

Status EventBus::Impl::Subscribe(std::unique_ptr<core::Subscription> sub) {
  std::lock_guard<std::mutex> lock(mu_);
  const BusState s = state();
  if (s == BusState::kDraining || s == BusState::kClosed) {
    return Closed("bus is " + std::string(ToString(s)) + "; subscribe refused");
  }
  const std::string topic = sub->topic;
  if (subs_.count(topic) != 0) {
    return Status(ErrorCode::kAlreadyExists, "topic " + topic + " already has a handler");
  }
  if (s == BusState::kRunning) {
    // Before Start(), Start() builds the chains (Use() may still add to them).
    if (Status e = core::BuildMiddlewareChain(*sub, bus_middleware_, &middleware_metrics_);
        !e.ok()) {
      return e;
    }
    // Topics are asserted before anything is consumed from them.
    if (Status e = transport_->EnsureTopic(topic); !e.ok()) return e;
    if (Status e = transport_->EnsureTopic(sub->dead_letter_topic); !e.ok()) return e;
  }
  subs_[topic] = std::move(sub);
  if (s != BusState::kRunning) return Status();
  if (loop_) {
    loop_->Resubscribe(SubscriptionsLocked());
    return Status();
  }
  return StartEngineLocked();
}

Status EventBus::Impl::ConfigureTopic(std::string_view topic, const TopicConfig& settings) {
  if (Status s = config_internal::CheckTopicConfig(config_, topic, settings); !s.ok()) return s;
  const std::string name(topic);
  std::lock_guard<std::mutex> lock(mu_);
  const std::string what = "ConfigureTopic(" + name + ")";
  if (state() != BusState::kCreated) {
    return FailedPrecondition(what + " must come before Start(); the bus is " +
                              std::string(ToString(state())));
  }
  if (relay_open_.load(std::memory_order_acquire)) {
    return FailedPrecondition(what + " must come before the first publish");
  }
  if (subs_.count(name) != 0) {
    return FailedPrecondition(what + " must come before Subscribe(" + name +
                              "), which took the topic's defaults");
  }
  config_.topics[name] = settings;
  transport_->topics()->Set(name, settings);
  return Status();
}

core::ConsumerLoop::Subscriptions EventBus::Impl::SubscriptionsLocked() const {
  core::ConsumerLoop::Subscriptions out;
  for (const auto& [topic, sub] : subs_) out[topic] = sub.get();
  return out;
}

Status EventBus::Impl::SetErrorCallback(ErrorCallback callback) {
  std::lock_guard<std::mutex> lock(mu_);
  if (Status s = CheckCallbackSetLocked("the error callback", true); !s.ok()) return s;
  error_callback_ = std::move(callback);
  return Status();
}

void EventBus::Impl::ReportError(const Status& status) {
  ErrorCallback cb;
  {
    std::lock_guard<std::mutex> lock(mu_);
    cb = error_callback_;
  }
  if (cb) {
    cb(status);  // off-lock: the callback may call back into the bus
  } else {
    std::fprintf(stderr, "evbus[%llu]: %s\n", static_cast<unsigned long long>(id_),
                 status.ToString().c_str());
  }
}

}  // namespace evbus
