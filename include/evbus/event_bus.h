// EventBus: publish and consume records and envelopes over one transport.
//
// Lifecycle: created -> running (Start) -> draining (Close) -> closed.
//   auto bus = evbus::EventBus::Create(config);          // no threads yet
//   bus.value()->SubscribeEnvelope("orders", handler);   // before Start
//   bus.value()->Start();                                // subscribes all topics at once
//   bus.value()->PublishEnvelope("orders", envelope, on_done);
//   auto report = bus.value()->Close();                  // joins every thread
//
// Delivery is at-least-once with no holes: a partition's offset is committed
// only over a contiguous prefix of settled messages (handled, or
// dead-lettered). Under Ordering::kPerKey one key's messages run one at a time
// in log order while different keys run in parallel on the worker pool, so
// parallelism is not limited by the number of partitions. A failing message
// is retried with backoff inside its key's lane, then published to the
// dead-letter topic; if that publish fails the lane stays blocked and retries
// (it is never skipped). Memory is bounded: a per-partition window and a
// bus-wide byte budget pause fetching, and never drop what was read.
//
// Thread safety: all methods may be called from any thread. Close() is
// idempotent and may be called concurrently; every caller gets the same
// report. Handlers and callbacks never run under an internal lock.

#ifndef EVBUS_EVENT_BUS_H_
#define EVBUS_EVENT_BUS_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "evbus/census.h"
#include "evbus/config.h"
#include "evbus/envelope.h"
#include "evbus/export.h"
#include "evbus/handler.h"
#include "evbus/ops.h"
#include "evbus/publish_options.h"
#include "evbus/record.h"
#include "evbus/status.h"

namespace evbus {

class EventBus;
namespace transport {
class Transport;
}  // namespace transport
namespace testing {
Result<std::unique_ptr<EventBus>> CreateBusWithTransport(const Config&,
                                                         std::unique_ptr<transport::Transport>);
}  // namespace testing

enum class BusState { kCreated, kRunning, kDraining, kClosed };
EVBUS_EXPORT std::string_view ToString(BusState state);

// What Close() did. Computed once; later calls return the same report.
struct EVBUS_EXPORT CloseReport {
  Status status;                       // OK, or why the close was not clean (e.g. Timeout)
  size_t threads_at_create = 0;        // process threads just before the bus was created
  size_t threads_before_close = 0;     // process threads when Close() began
  size_t threads_after_close = 0;      // process threads right after the last join
  size_t bus_threads_after_close = 0;  // threads still registered to this bus (always 0)
  uint64_t drained = 0;                // messages settled while draining
  uint64_t abandoned = 0;              // messages left unsettled (uncommitted: redelivered later)
  uint64_t partitions_committed = 0;   // partitions whose offset the final commit wrote
  // Partitions whose final commit failed or was not answered by the deadline
  // (broker gone): what they handled since their last commit is redelivered.
  uint64_t partitions_uncommitted = 0;
  uint64_t publishes_failed_on_close = 0;  // accepted publishes completed with kClosed
  std::chrono::microseconds duration{0};
  std::string ToString() const;
};

// Counters since Create(); a pull API for users who export metrics elsewhere.
struct BusStats {
  uint64_t published_ok = 0;
  uint64_t published_failed = 0;
  uint64_t handled = 0;               // handler returned OK
  uint64_t failed = 0;                // handler attempts that failed (each retry counts)
  uint64_t retried = 0;               // retries scheduled
  uint64_t dead_lettered = 0;         // settled by a dead-letter publish (includes poison)
  uint64_t poison = 0;                // records that failed envelope decoding
  uint64_t dead_letter_failures = 0;  // dead-letter publishes that failed (lane blocked, retried)
  uint64_t commits = 0;               // offsets committed (per partition)
  uint64_t pauses = 0;                // partitions paused for backpressure
  int64_t in_flight = 0;              // messages read and not yet settled
  int64_t in_flight_bytes = 0;
  int64_t publish_in_flight = 0;
  uint64_t publish_rate_waits = 0;  // publishes that waited for a token (publisher.rate_limit)
  uint64_t dispatch_throttled = 0;  // messages held back by a subscription's rate limit
  uint64_t connection_changes = 0;  // connection state changes the transport reported
};

// Readiness: running, transport connected, no lane blocked on dead-lettering,
// no stalled partition, health-check publisher healthy and monitor not critical.
struct Health {
  bool healthy = false;
  BusState state = BusState::kCreated;
  std::string transport;  // "memory", "kafka", "nats"
  bool connected = false;
  int blocked_lanes = 0;       // lanes waiting: retry backoff, rate limit or a dead-letter publish
                               // (unhealthy only while dead-letter publishes fail)
  int stalled_partitions = 0;  // see BacklogState (subscriber.stall_timeout)
  HealthPublisherStatus health_publisher;  // running == false unless health_check.publish
  HealthMonitorStats health_monitor;       // running == false unless health_check.monitor
  std::string detail;                      // why not healthy, for people
};

class EVBUS_EXPORT EventBus {
 public:
  // Validates `config` (ValidateConfig) and connects the transport's producer.
  // Threads: the engine's (workers, consumer loop, retry timer) and the ops
  // thread start only in Start(). Connecting the producer starts the client's
  // own threads: on Kafka librdkafka's and evbus's delivery-report poller
  // "evb-kprod", on NATS cnats's connection threads; memory starts none. All
  // are in the census under this bus's id() and are joined by Close().
  // Errors: InvalidArgument (config), Unavailable (transport), NotImplemented
  // (a transport not built into this version).
  static Result<std::unique_ptr<EventBus>> Create(const Config& config);

  // Closes with config.close_timeout if Close() was not called.
  // REQUIRES: not destroyed on one of this bus's own handler threads. If it
  // is, the destructor cannot wait for that thread: it returns at once, and
  // a thread "evb-reaper" (census owner "reaper") closes the bus once the
  // handler has returned, then frees it and ends.
  ~EventBus();
  EventBus(const EventBus&) = delete;
  EventBus& operator=(const EventBus&) = delete;

  // Publishes `record` (record.topic required; record.key, if set, chooses the
  // partition) asynchronously. When this returns OK, `done` (if any) is called
  // exactly once with the outcome. Waits up to publisher.timeout while
  // publisher.max_in_flight publishes are outstanding.
  // Errors: InvalidArgument (empty topic), QueueFull (still full after the
  // timeout), Closed (bus draining or closed).
  Status Publish(Record record, PublishCallback done = nullptr);

  // Encodes `envelope` (publisher.payload_format) and publishes it with key =
  // aggregate id and the X-Event-ID, X-Aggregate-ID, X-Event-Type,
  // X-Event-Version, X-Trace-ID, X-Correlation-ID, X-Tenant-ID headers. On a
  // topic whose TopicConfig::format is a CloudEvents one, writes the envelope's
  // CloudEvent in that mode instead (see evbus/cloudevents.h).
  // Errors: those of Publish, and InvalidArgument from Validate(envelope).
  Status PublishEnvelope(std::string_view topic, const Envelope& envelope,
                         PublishCallback done = nullptr);

  // Publish and PublishEnvelope with `options` (see PublishOptions): extra
  // headers, an explicit partition, a timeout of this publish's own.
  // Errors: those above; InvalidArgument for a negative partition or
  // timeout, or a partition beyond the topic's count (naming both).
  Status Publish(Record record, PublishCallback done, const PublishOptions& options);
  Status PublishEnvelope(std::string_view topic, const Envelope& envelope, PublishCallback done,
                         const PublishOptions& options);

  // Publishes and waits for the broker's acknowledgement: the result holds
  // the partition and offset the record was stored at. One deadline, from
  // the call, for room in the queue and for the acknowledgement:
  // options.timeout, else publisher.timeout. At the deadline it returns
  // Timeout, but the record was handed over and may still be stored: its
  // result then goes to the result callback (SetPublishResultCallback)
  // exactly once, as every accepted publish's does. Safe on a handler thread.
  // Errors: those of Publish (the publish was refused: nothing sent); the
  // error the broker completed it with; Timeout (no acknowledgement yet:
  // the outcome is unknown); WouldDeadlock when called where completions are
  // delivered (inside a PublishCallback or the result callback, or on
  // Kafka's "evb-kprod" thread), which would wait for itself.
  Result<PublishResult> PublishSync(Record record, const PublishOptions& options = {});
  Result<PublishResult> PublishEnvelopeSync(std::string_view topic, const Envelope& envelope,
                                            const PublishOptions& options = {});

  // Publishes `envelopes` to `topic` in order, each with `options`
  // (options.timeout bounds each one's wait for room). `done` (if any) is
  // called exactly once per envelope, with its index: with the broker's
  // outcome for each one accepted, and before this returns, with the refusal
  // for each one not accepted. The first refusal (an invalid envelope,
  // QueueFull, Closed) stops the batch: the envelopes after it are not
  // published and complete with the same error code, naming the refused
  // one (so Status::retriable() says the same of them). Only accepted
  // envelopes reach the result callback (SetPublishResultCallback).
  // Returns OK when every envelope was accepted, else the first refusal,
  // with its index.
  Status PublishBatch(std::string_view topic, std::span<const Envelope> envelopes,
                      BatchCallback done = nullptr, const PublishOptions& options = {});

  // Registers the handler of `topic`. Before Start() this costs nothing; after
  // Start() the consumer resubscribes to the new topic set.
  // Errors: InvalidArgument (empty topic, null handler), AlreadyExists (topic
  // has a handler), Closed.
  Status Subscribe(std::string_view topic, RecordHandler handler, SubscribeOptions options = {});
  // Like Subscribe, decoding each record as an Envelope (subscriber.payload_format),
  // or, from a CloudEvent in either mode, as EnvelopeFromCloudEvent maps it.
  // A record that fails decoding is poison: dead-lettered at once, never retried.
  Status SubscribeEnvelope(std::string_view topic, EnvelopeHandler handler,
                           SubscribeOptions options = {});

  // Sets `topic`'s settings (persistence, partitions, retention, replication,
  // format, payload format, default ordering: see TopicConfig), as the YAML
  // section topics.<name> does, replacing what the configuration said. Topics
  // are created with them when the bus first needs them.
  // REQUIRES: before Start(), the first publish and Subscribe(topic), and
  // not concurrently with publishes or subscriptions on other threads: it is
  // set-up, the one method the class comment's "from any thread" excludes
  // (publishing then reads the settings without a lock).
  // Errors: InvalidArgument naming topics.<name>.<key> and the bad value;
  // FailedPrecondition when called too late, saying what came first.
  Status ConfigureTopic(std::string_view topic, const TopicConfig& settings);

  // Adds `middleware` around the handler of every subscription of this bus,
  // made before or after this call: the first one added is outermost, and
  // all wrap outside a subscription's own SubscribeOptions::middleware. This
  // includes subscriptions to dead-letter topics (not the bus's internal
  // health-check monitor).
  // Chains are built by Start() (for later subscriptions, by Subscribe).
  // Built-ins: evbus/middleware.h.
  // Errors: InvalidArgument (null), FailedPrecondition (after Start()).
  Status Use(Middleware middleware);

  // Starts consumption of every subscribed topic (threads: workers, consumer
  // loop, retry timer), the health checks (health_check.enabled), the metrics
  // listener (metrics.enabled) and the ops thread when health checks or a
  // backlog callback need it. A publish-only bus without those starts no thread.
  // Errors: FailedPrecondition (already started; or a topic's partition count
  // differs under validate_only / create_or_update), Closed, NotFound (a
  // topic is missing under validate_only), AlreadyExists (health_check.topic
  // has a handler while health_check.monitor is on), Unavailable (transport,
  // or metrics.listen cannot be bound), InvalidArgument (a middleware
  // returned a null handler).
  Status Start();

  // Stops intake, finishes queued and running work per lane until 3/4 of
  // `timeout`, then cancels handlers (CancelToken) and abandons what is left
  // (uncommitted, so redelivered), commits the frontier, leaves the group,
  // flushes the producer, and joins every thread the bus started. Idempotent.
  // Errors: WouldDeadlock when called from one of this bus's handler threads.
  Result<CloseReport> Close();
  Result<CloseReport> Close(std::chrono::milliseconds timeout);

  // Callbacks. Each setter works only before Start() (the error, connection
  // and publish result callbacks also only before the first publish) and
  // returns FailedPrecondition later, naming the callback; nothing is ever
  // silently not called. A callback runs on an evbus or client thread, never
  // under an internal lock, and may call back into the bus (not Close() from
  // a handler thread); keep it short. Its arguments live only for the call.
  //
  // Which thread calls what:
  //   handlers                   "evb-work-N" (every transport)
  //   PublishCallback, results   memory: inside Publish(), on the caller's thread;
  //                              Kafka: "evb-kprod"; NATS: cnats's ack thread;
  //                              with kClosed, the thread calling Close()
  //   ErrorCallback              workers (dead-letter failures), "evb-poll"
  //                              (consumer), the transport's threads
  //   ConnectionCallback         the transport's threads (librdkafka, cnats)
  //   PublishInterceptor         the thread calling Publish (or its Sync/batch forms)
  //   Backlog / HealthAlert      "evb-ops"

  // Asynchronous problems (see ErrorCallback). What the transport reported
  // since Create() is held until Start() or the first publish and reaches this
  // callback, and the connection callback, first.
  Status SetErrorCallback(ErrorCallback callback);

  // Outbox relays: `callback` receives one PublishResult per accepted publish
  // (event id, topic, aggregate id, event type, outcome, time) — once the
  // broker acknowledged the record (status OK), or with the error; publishes
  // still pending at Close() complete with kClosed before Close() returns.
  // Exactly one result per publish that returned OK, none for one that
  // returned an error. Hand the result to a bounded queue of your own if it
  // must do I/O.
  Status SetPublishResultCallback(PublishCallback callback);
  // Every connection state change of the transport.
  Status SetConnectionCallback(ConnectionCallback callback);
  // When the bus goes into or out of backlog (see BacklogState), checked
  // every subscriber.backlog_interval.
  Status SetBacklogCallback(BacklogCallback callback);
  // Health-check monitor alerts (health_check.monitor).
  Status SetHealthAlertCallback(HealthAlertCallback callback);
  // Adds `interceptor` (see PublishInterceptor), run after those added
  // before it; set before Start() and the first publish like the callbacks
  // above. Errors: InvalidArgument (null), FailedPrecondition (too late).
  Status AddPublishInterceptor(PublishInterceptor interceptor);

  // The last backlog sample (empty partitions before the first one). Lag is
  // sampled (a broker round trip on Kafka and NATS) only while a backlog
  // callback is set or metrics.enabled; stalls and in-flight counts always.
  BacklogState backlog() const;
  // Every metric in Prometheus text format (what the metrics.listen endpoint
  // serves), for users who export elsewhere. Latency histograms are recorded
  // only while metrics.enabled.
  std::string MetricsText() const;
  // The port the metrics listener is bound to (useful with port 0); 0 when none.
  int metrics_port() const;

  BusState state() const;
  uint64_t id() const;  // this bus's id in the thread census
  BusStats stats() const;
  Health health() const;
  // The process's threads, with this bus's marked by id().
  Census census() const { return TakeCensus(); }

  class Impl;

 private:
  friend Result<std::unique_ptr<EventBus>> testing::CreateBusWithTransport(
      const Config&, std::unique_ptr<transport::Transport>);
  static Result<std::unique_ptr<EventBus>> CreateWithTransport(
      const Config& config, uint64_t id, size_t threads_at_create,
      std::unique_ptr<transport::Transport> transport);
  explicit EventBus(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace evbus

#endif  // EVBUS_EVENT_BUS_H_
