// Config: every setting of a bus, as one plain struct.
//
// Code may fill a Config directly, or load it from YAML (LoadConfigFile /
// LoadConfigString) with environment overrides (ApplyEnvOverrides). Each field
// has its YAML path in its comment (e.g. subscriber.retry.max_attempts) and the
// matching environment variable is EVBUS_ + the path upper-cased with '.'
// turned into '_' (EVBUS_SUBSCRIBER_RETRY_MAX_ATTEMPTS). ValidateConfig checks
// every value and its range before anything connects; EventBus::Create calls it.
//
// YAML value forms: durations as "250ms", "5s", "1m30s", "2h" (units ns, us,
// ms, s, m, h) or a bare integer of milliseconds; byte sizes as "64MiB",
// "512KiB", "1GB" or a bare integer of bytes; lists as YAML sequences (or, in
// environment variables, comma-separated).
//
// Defaults favour safety: idempotent Kafka producer with acks=all, manual
// commits driven by the frontier, dead-lettering on, at-least-once.
//
// Thread safety: a plain value type.

#ifndef EVBUS_CONFIG_H_
#define EVBUS_CONFIG_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "evbus/envelope.h"
#include "evbus/export.h"
#include "evbus/status.h"

namespace evbus {

using Duration = std::chrono::nanoseconds;

enum class TransportKind { kMemory, kKafka, kNats };

// How a subscription orders its messages.
enum class Ordering {
  kPerKey,        // one at a time per key, keys in parallel (default for envelopes)
  kPerPartition,  // one at a time per partition
  kNone,          // fully parallel
};

enum class OffsetReset { kEarliest, kLatest };

// What start() does about topics that are missing or differ from what is expected.
enum class TopicStrategy { kValidateOnly, kCreateIfMissing, kCreateOrUpdate, kSkip };

// What a topic keeps (topics.<name>.persistence).
enum class Persistence {
  kPersistent,  // stored (and replicated): at-least-once, committed, replayable (the default)
  kEphemeral,   // at-most-once notifications, never stored by evbus's consumers: Core NATS
                // publish/subscribe (no JetStream), on Kafka read from the latest offset with
                // no commits, on memory read from the log's end with no commits
};

// How PublishEnvelope writes a topic's records (topics.<name>.format). Any
// subscriber reads all three: a CloudEvent from any producer decodes as an Envelope.
enum class EventFormat {
  kEnvelope,               // jxt-core's JSON envelope with X-* headers (the default)
  kCloudEventsBinary,      // CloudEvents 1.0 binary mode: attributes in ce_ (Kafka, memory)
                           // or ce- (NATS) headers, the payload as the record's value
  kCloudEventsStructured,  // CloudEvents 1.0 structured mode: application/cloudevents+json
};

// One topic's settings (Config::topics, YAML `topics: {<name>: {...}}`, or
// EventBus::ConfigureTopic before Start). Zero / unset means "the
// transport's or subscriber's default"; jxt-core's ConfigureTopic set the same.
struct TopicConfig {
  Persistence persistence = Persistence::kPersistent;  // topics.<name>.persistence
  int partitions = 0;     // topics.<name>.partitions: 0 = transport default, 1..10000
  Duration retention{0};  // topics.<name>.retention: 0 = transport default (kafka: broker's
                          // retention.ms; nats: nats.max_age; memory: by count and size only)
  int replication = 0;    // topics.<name>.replication: 0 = kafka.replication_factor / nats.replicas
  EventFormat format =
      EventFormat::kEnvelope;  // topics.<name>.format:
                               // envelope|cloudevents_binary|cloudevents_structured
  // topics.<name>.payload_format: raw_json|base64|auto; unset = publisher.payload_format
  // when publishing, subscriber.payload_format when subscribing.
  std::optional<PayloadFormat> payload_format;
  std::optional<Ordering> ordering;  // topics.<name>.ordering: unset = subscription's default
  bool operator==(const TopicConfig&) const = default;
};

struct RetryPolicy {
  int max_attempts = 5;  // subscriber.retry.max_attempts, 1..1000 (1 = no retry)
  Duration initial_backoff =
      std::chrono::milliseconds(100);               // subscriber.retry.initial_backoff, 0..1h
  Duration max_backoff = std::chrono::seconds(30);  // subscriber.retry.max_backoff, >= initial
  double multiplier = 2.0;                          // subscriber.retry.multiplier, 1..100
  double jitter = 0.2;  // subscriber.retry.jitter, 0..1 (fraction of the backoff)
};

struct MemoryConfig {
  int partitions = 8;  // memory.partitions: partitions of auto-created topics, 1..1024
  int64_t retention_records = 1'000'000;  // memory.retention_records: per partition, 1..2^40
  int64_t retention_bytes = 1LL << 30;    // memory.retention_bytes: per partition, 1KiB..1TiB
  std::string broker = "default";         // memory.broker: buses naming the same broker share it
};

struct KafkaConfig {
  std::vector<std::string> brokers;  // kafka.brokers: host:port list, required for kafka
  std::string client_id = "evbus";   // kafka.client_id
  std::string security_protocol =
      "plaintext";              // kafka.security_protocol: plaintext|ssl|sasl_plaintext|sasl_ssl
  std::string sasl_mechanism;   // kafka.sasl_mechanism: PLAIN|SCRAM-SHA-256|SCRAM-SHA-512
  std::string sasl_username;    // kafka.sasl_username
  std::string sasl_password;    // kafka.sasl_password (secret: printed as ***)
  std::string ssl_ca_location;  // kafka.ssl_ca_location
  // Topics the bus creates (topic_strategy create_if_missing / create_or_update).
  int topic_partitions = 8;     // kafka.topic_partitions, 1..10000
  int replication_factor = -1;  // kafka.replication_factor: -1 = broker default, else 1..100
  // kafka.min_insync_replicas: copies that must have a record before acks=all
  // acknowledges it; -1 = broker default, else 1..replication_factor.
  int min_insync_replicas = -1;
  // Producer
  bool idempotent = true;           // kafka.producer.idempotent
  std::string acks = "all";         // kafka.producer.acks: all|1|0 (idempotence needs all)
  std::string compression = "lz4";  // kafka.producer.compression: none|gzip|snappy|lz4|zstd
  Duration linger = std::chrono::milliseconds(5);  // kafka.producer.linger, 0..10s
  int64_t batch_bytes = 1 << 20;                   // kafka.producer.batch_bytes, 1KiB..256MiB
  std::string partitioner = "fnv1a_random";        // kafka.producer.partitioner: fnv1a_random
                                                   // (jxt-core/sarama)|murmur2_random (Java)
  // Consumer
  Duration session_timeout = std::chrono::seconds(10);  // kafka.consumer.session_timeout, 1s..5m
  Duration heartbeat_interval =
      std::chrono::seconds(3);  // kafka.consumer.heartbeat_interval, 100ms..< session_timeout
  Duration max_poll_interval =
      std::chrono::minutes(5);     // kafka.consumer.max_poll_interval, >= session_timeout
  std::string assignor = "range";  // kafka.consumer.assignor: range|roundrobin|cooperative-sticky
  std::string group_instance_id;   // kafka.consumer.group_instance_id: static membership when set
  std::string isolation_level =
      "read_committed";  // kafka.consumer.isolation_level: read_committed|read_uncommitted
  // Expert escape hatch: raw librdkafka properties, validated by librdkafka at create time.
  std::map<std::string, std::string> properties;  // kafka.properties.<name>
};

// How topics map onto JetStream streams, subjects and durables (nats.layout).
enum class NatsLayout { kPartitioned, kJxt };

struct NatsConfig {
  std::vector<std::string> urls;                       // nats.urls, required for nats
  std::string name = "evbus";                          // nats.name: connection name
  std::string user;                                    // nats.user
  std::string password;                                // nats.password (secret)
  std::string token;                                   // nats.token (secret)
  std::string nkey_seed_file;                          // nats.nkey_seed_file
  std::string credentials_file;                        // nats.credentials_file
  std::string tls_ca_file;                             // nats.tls_ca_file
  std::string tls_cert_file;                           // nats.tls_cert_file
  std::string tls_key_file;                            // nats.tls_key_file
  int max_reconnects = -1;                             // nats.max_reconnects: -1 = forever, 0..1e6
  Duration reconnect_wait = std::chrono::seconds(2);   // nats.reconnect_wait, 0..5m
  Duration connect_timeout = std::chrono::seconds(5);  // nats.connect_timeout, 100ms..5m
  // nats.send_asap: write each publish, fetch request and ack to the socket
  // at once. false: cnats's flusher thread writes them, after a 1 ms pause
  // to gather more, which put 1 ms on every fetch and 6-7 ms on a message's
  // way at 2,000 msg/s, for no gain in throughput measured here.
  bool send_asap = true;
  // JetStream
  // nats.layout: partitioned|jxt. partitioned (evbus's own): nats.partitions
  // subjects <topic>.<p> per topic, a stream per partition (or all in
  // nats.stream), a durable per partition. jxt (jxt-core's): one stream for
  // the bus, nats.stream with nats.subjects (both required), subject = topic,
  // one partition per topic, durable <subscriber.group>-unified_<topic>.
  NatsLayout layout = NatsLayout::kPartitioned;
  std::string stream;  // nats.stream: empty = one stream per partition (EVBUS_<TOPIC>_P<p>)
  std::vector<std::string> subjects;  // nats.subjects: the jxt stream's subjects, e.g. shop.>
  std::string storage = "file";       // nats.storage: file|memory
  int replicas = 1;                   // nats.replicas, 1..5
  Duration max_age = std::chrono::hours(24);            // nats.max_age, 0 (unlimited)..
  int64_t max_bytes = -1;                               // nats.max_bytes: -1 = unlimited
  int64_t max_msgs = -1;                                // nats.max_msgs: -1 = unlimited
  Duration duplicate_window = std::chrono::minutes(2);  // nats.duplicate_window, 0..1d
  Duration ack_wait = std::chrono::seconds(30);         // nats.ack_wait, 1s..1h
  int partitions = 4;  // nats.partitions: subjects <topic>.<p> per topic (one stream each), 1..1024
  int max_deliver = -1;  // nats.max_deliver: -1 = unlimited
  // nats.notices: the streams evbus makes (partitioned layout, no
  // nats.stream) republish each message's headers, and consumers wait on
  // these notices rather than on one partition at a time: a message on a
  // quiet partition is fetched at once. Costs a notice per message (about a
  // third of the closed-loop maximum on a 2-core host). Applies to existing
  // streams under topic_strategy create_or_update on nats-server 2.10+;
  // earlier servers cannot change it, and such streams keep theirs.
  bool notices = false;
};

struct PublisherConfig {
  Duration timeout =
      std::chrono::seconds(5);  // publisher.timeout: how long Publish waits for queue room, 0..10m
  int64_t max_in_flight =
      100'000;  // publisher.max_in_flight: accepted, not yet completed publishes, 1..10M
  PayloadFormat payload_format =
      PayloadFormat::kRawJson;  // publisher.payload_format: raw_json|base64 (auto writes raw_json)
  // publisher.jxt_compat: current|event_id|seed — the jxt-core envelope
  // generation written, for Go consumers of that age (see WireGeneration);
  // event_id and seed always write the payload as base64.
  WireGeneration jxt_compat = WireGeneration::kCurrent;
  // Token bucket on Publish: publishes per second, 0 = unlimited. A publish
  // that would wait longer than publisher.timeout for a token fails with QueueFull.
  double rate_limit = 0;  // publisher.rate_limit, 0..1e9
  int rate_burst = 0;     // publisher.rate_burst: bucket size, 0 = one second of rate_limit
  // Publisher backlog: outstanding publishes, or an average completion
  // latency (measured while metrics.enabled or this is set), at or above these.
  int64_t backlog_in_flight = 10'000;  // publisher.backlog_in_flight, 1..10M
  Duration backlog_latency{0};         // publisher.backlog_latency: 0 = not checked, ..1h
};

struct SubscriberConfig {
  std::string group = "evbus";  // subscriber.group: consumer group / durable name
  int workers = 0;              // subscriber.workers: 0 = hardware threads, 1..1024
  // subscriber.lanes: lane slots allocated up front, 1..1M. A lane is one
  // ordering unit's serial FIFO (a key, or a partition), created on demand and
  // freed when idle; this many distinct units fit in flight before the lane
  // slab grows (it never limits parallelism or memory: in-flight messages do).
  int lanes = 4096;
  Ordering ordering = Ordering::kPerKey;  // subscriber.ordering: per_key|per_partition|none
  int window = 1024;  // subscriber.window: in-flight messages per partition, 1..1M
  int64_t memory_budget =
      64LL << 20;              // subscriber.memory_budget: bytes in flight per bus, 64KiB..64GiB
  int max_poll_records = 500;  // subscriber.max_poll_records, 1..100000
  Duration commit_interval = std::chrono::milliseconds(100);  // subscriber.commit_interval, 1ms..1m
  OffsetReset auto_offset_reset =
      OffsetReset::kEarliest;  // subscriber.auto_offset_reset: earliest|latest
  // subscriber.handler_timeout, 0..24h (0 = none): a handler call still running
  // this long has its CancelToken cancelled and the attempt counts as failed
  // (retried, then dead-lettered). SubscribeOptions::handler_timeout overrides it.
  Duration handler_timeout = std::chrono::seconds(0);
  // subscriber.payload_format: auto|raw_json|base64. auto reads a string
  // payload as base64 and any other as raw JSON; the other two accept only
  // their form (anything else is poison). SubscribeOptions::payload_format
  // overrides it per topic.
  PayloadFormat payload_format = PayloadFormat::kAuto;
  RetryPolicy retry;  // subscriber.retry.*
  std::string dead_letter_suffix =
      ".dlq";  // subscriber.dead_letter_suffix: DLQ topic = topic + suffix, non-empty
  // Token bucket on handler dispatch, per subscription: messages per second,
  // 0 = unlimited (SubscribeOptions::rate_limit overrides it per topic).
  double rate_limit = 0;  // subscriber.rate_limit, 0..1e9
  int rate_burst = 0;     // subscriber.rate_burst: bucket size, 0 = one second of rate_limit
  // Backlog detection: lag and stalls are sampled every backlog_interval.
  Duration backlog_interval = std::chrono::seconds(5);  // subscriber.backlog_interval, 1ms..1h
  int64_t backlog_lag = 1000;  // subscriber.backlog_lag: a partition lagging this much, 1..2^62
  Duration stall_timeout = std::chrono::seconds(30);  // subscriber.stall_timeout: a partition whose
                                                      // frontier has not moved this long with
                                                      // messages in flight is stalled; 0 = off
};

// jxt-core compatible health checks (see evbus/ops.h), running from Start().
struct HealthCheckConfig {
  bool enabled = false;                         // health_check.enabled
  std::string topic = "jxt-core-health-check";  // health_check.topic
  Duration interval = std::chrono::minutes(2);  // health_check.interval, 10ms..1d
  Duration timeout = std::chrono::seconds(10);  // health_check.timeout, 1ms..5m
  int failure_threshold = 3;                    // health_check.failure_threshold, 1..1000
  bool publish = true;  // health_check.publish: send a health message every interval
  bool monitor = true;  // health_check.monitor: subscribe to the topic, alert on no_messages
};

struct MetricsConfig {
  bool enabled = false;  // metrics.enabled: latency histograms, and the HTTP listener
  std::string listen = "127.0.0.1:9464";  // metrics.listen: host:port (port 0 = any free
                                          // port), "" = no listener (EventBus::MetricsText)
};

struct Config {
  TransportKind transport = TransportKind::kMemory;  // transport: memory|kafka|nats
  std::string service_name = "evbus";  // service_name: used as health "source" and client ids
  Duration close_timeout =
      std::chrono::seconds(30);  // close_timeout: default deadline of Close(), 0..1h
  TopicStrategy topic_strategy =
      TopicStrategy::kCreateIfMissing;  // topic_strategy:
                                        // validate_only|create_if_missing|create_or_update|skip
  MemoryConfig memory;
  KafkaConfig kafka;
  NatsConfig nats;
  PublisherConfig publisher;
  SubscriberConfig subscriber;
  HealthCheckConfig health_check;
  MetricsConfig metrics;
  // topics.<name>.*: per-topic settings; topics not named here use the defaults.
  std::map<std::string, TopicConfig> topics;
};

// Checks every value against its range and the cross-field rules.
// Errors: InvalidArgument naming the path and value, e.g.
//   "subscriber.window: 0 is out of range [1, 1000000]".
EVBUS_EXPORT Status ValidateConfig(const Config& config);

// Parses YAML text into a Config (starting from the defaults), then validates.
// Unknown keys are errors naming their path: "subscriber.retry.max_atempts: unknown key".
// Errors: InvalidArgument (bad key, type or value), NotFound (missing file).
EVBUS_EXPORT Result<Config> LoadConfigString(std::string_view yaml);
EVBUS_EXPORT Result<Config> LoadConfigFile(const std::string& path);

// Applies EVBUS_* environment variables over `config` (one per field; see the
// header comment). An EVBUS_ variable that names no field is an error, so a
// typo cannot be silently ignored. Does not validate.
EVBUS_EXPORT Status ApplyEnvOverrides(Config& config);

// The effective configuration as YAML, every field, secrets printed as "***".
EVBUS_EXPORT std::string FormatConfigYaml(const Config& config);

// Text forms of the enums ("per_key", "kafka", ...).
EVBUS_EXPORT std::string_view ToString(TransportKind v);
EVBUS_EXPORT std::string_view ToString(Ordering v);
EVBUS_EXPORT std::string_view ToString(OffsetReset v);
EVBUS_EXPORT std::string_view ToString(TopicStrategy v);
EVBUS_EXPORT std::string_view ToString(PayloadFormat v);
EVBUS_EXPORT std::string_view ToString(WireGeneration v);
EVBUS_EXPORT std::string_view ToString(NatsLayout v);
EVBUS_EXPORT std::string_view ToString(Persistence v);
EVBUS_EXPORT std::string_view ToString(EventFormat v);

}  // namespace evbus

#endif  // EVBUS_CONFIG_H_
