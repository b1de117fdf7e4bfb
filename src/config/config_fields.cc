#include "config/config_fields.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <functional>
#include <optional>
#include <type_traits>

#include "config/topic_fields.h"

namespace evbus {
namespace config_internal {
namespace {

using namespace std::chrono_literals;

constexpr std::string_view kTransportNames[] = {"memory", "kafka", "nats"};
constexpr std::string_view kOrderingNames[] = {"per_key", "per_partition", "none"};
constexpr std::string_view kOffsetResetNames[] = {"earliest", "latest"};
constexpr std::string_view kTopicStrategyNames[] = {"validate_only", "create_if_missing",
                                                    "create_or_update", "skip"};
constexpr std::string_view kPayloadFormatNames[] = {"raw_json", "base64", "auto"};
constexpr std::string_view kWireGenerationNames[] = {"current", "event_id", "seed"};

constexpr std::string_view kSecurityProtocols[] = {"plaintext", "ssl", "sasl_plaintext",
                                                   "sasl_ssl"};
constexpr std::string_view kSaslMechanisms[] = {"", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"};
constexpr std::string_view kAcks[] = {"all", "1", "0"};
constexpr std::string_view kCompressions[] = {"none", "gzip", "snappy", "lz4", "zstd"};
constexpr std::string_view kPartitioners[] = {"fnv1a_random", "murmur2_random"};
constexpr std::string_view kAssignors[] = {"range", "roundrobin", "cooperative-sticky"};
constexpr std::string_view kIsolationLevels[] = {"read_committed", "read_uncommitted"};
constexpr std::string_view kNatsStorages[] = {"file", "memory"};
constexpr std::string_view kNatsLayouts[] = {"partitioned", "jxt"};
constexpr std::string_view kPersistenceNames[] = {"persistent", "ephemeral"};
constexpr std::string_view kEventFormatNames[] = {"envelope", "cloudevents_binary",
                                                  "cloudevents_structured"};

// Conversions between a field's C++ type and Value.
template <typename T>
Value ToValue(const T& v) {
  if constexpr (std::is_enum_v<T> || std::is_same_v<T, int>) {
    return static_cast<int64_t>(v);
  } else if constexpr (std::is_same_v<T, Duration>) {
    return static_cast<int64_t>(v.count());
  } else {
    return v;
  }
}

template <typename T>
void FromValue(const Value& v, T& out) {
  if constexpr (std::is_enum_v<T> || std::is_same_v<T, int>) {
    out = static_cast<T>(std::get<int64_t>(v));
  } else if constexpr (std::is_same_v<T, Duration>) {
    out = Duration(std::get<int64_t>(v));
  } else {
    out = std::get<T>(v);
  }
}

// `Ref` is a captureless generic lambda returning a reference to one member of
// the Config it is given (const or not); these turn it into Field accessors.
template <typename Ref>
Value GetField(const Config& c) {
  return ToValue(Ref{}(c));
}

template <typename Ref>
void SetField(Config& c, const Value& v) {
  FromValue(v, Ref{}(c));
}

template <typename Ref>
using FieldType = std::remove_reference_t<decltype(Ref{}(std::declval<Config&>()))>;

template <typename Ref>
constexpr Field Make(std::string_view path, Kind kind, int64_t min = kNoMin, int64_t max = kNoMax,
                     std::span<const std::string_view> allowed = {}, bool secret = false) {
  return Field{path, kind, &GetField<Ref>, &SetField<Ref>, min, max, allowed, secret};
}

template <typename Ref>
constexpr Field Str(std::string_view path, Ref, std::span<const std::string_view> allowed = {}) {
  static_assert(std::is_same_v<FieldType<Ref>, std::string>);
  return Make<Ref>(path, Kind::kString, kNoMin, kNoMax, allowed);
}

template <typename Ref>
constexpr Field Secret(std::string_view path, Ref) {
  static_assert(std::is_same_v<FieldType<Ref>, std::string>);
  return Make<Ref>(path, Kind::kString, kNoMin, kNoMax, {}, /*secret=*/true);
}

template <typename Ref>
constexpr Field Int(std::string_view path, Ref, int64_t min,
                    int64_t max = std::numeric_limits<int>::max()) {
  using T = FieldType<Ref>;
  static_assert(std::is_same_v<T, int> || std::is_same_v<T, int64_t>);
  return Make<Ref>(path, std::is_same_v<T, int> ? Kind::kInt : Kind::kInt64, min, max);
}

template <typename Ref>
constexpr Field Bytes(std::string_view path, Ref, int64_t min, int64_t max = kNoMax) {
  static_assert(std::is_same_v<FieldType<Ref>, int64_t>);
  return Make<Ref>(path, Kind::kBytes, min, max);
}

template <typename Ref>
constexpr Field Dur(std::string_view path, Ref, Duration min, Duration max = Duration::max()) {
  static_assert(std::is_same_v<FieldType<Ref>, Duration>);
  return Make<Ref>(path, Kind::kDuration, min.count(), max.count());
}

template <typename Ref>
constexpr Field Real(std::string_view path, Ref, int64_t min, int64_t max) {
  static_assert(std::is_same_v<FieldType<Ref>, double>);
  return Make<Ref>(path, Kind::kDouble, min, max);
}

template <typename Ref>
constexpr Field Bool(std::string_view path, Ref) {
  static_assert(std::is_same_v<FieldType<Ref>, bool>);
  return Make<Ref>(path, Kind::kBool);
}

template <typename Ref>
constexpr Field Enum(std::string_view path, Ref, std::span<const std::string_view> names) {
  static_assert(std::is_enum_v<FieldType<Ref>>);
  return Make<Ref>(path, Kind::kEnum, 0, static_cast<int64_t>(names.size()) - 1, names);
}

template <typename Ref>
constexpr Field List(std::string_view path, Ref) {
  static_assert(std::is_same_v<FieldType<Ref>, std::vector<std::string>>);
  return Make<Ref>(path, Kind::kStringList);
}

template <typename Ref>
constexpr Field Map(std::string_view path, Ref) {
  static_assert(std::is_same_v<FieldType<Ref>, StringMap>);
  return Make<Ref>(path, Kind::kStringMap);
}

// REF(a.b) is an accessor lambda for member a.b of a (const) Config.
#define REF(member) \
  [](auto& c) -> auto& { return c.member; }

// The fields of a section must be contiguous (a parent section may go on after
// a child ends, as kafka does with properties): FormatConfigYaml opens each
// section once.
constexpr Field kFields[] = {
    Enum("transport", REF(transport), kTransportNames),
    Str("service_name", REF(service_name)),
    Dur("close_timeout", REF(close_timeout), 0s, 1h),
    Enum("topic_strategy", REF(topic_strategy), kTopicStrategyNames),

    Int("memory.partitions", REF(memory.partitions), 1, 1024),
    Int("memory.retention_records", REF(memory.retention_records), 1, int64_t{1} << 40),
    Bytes("memory.retention_bytes", REF(memory.retention_bytes), 1 << 10, int64_t{1} << 40),
    Str("memory.broker", REF(memory.broker)),

    List("kafka.brokers", REF(kafka.brokers)),
    Str("kafka.client_id", REF(kafka.client_id)),
    Str("kafka.security_protocol", REF(kafka.security_protocol), kSecurityProtocols),
    Str("kafka.sasl_mechanism", REF(kafka.sasl_mechanism), kSaslMechanisms),
    Str("kafka.sasl_username", REF(kafka.sasl_username)),
    Secret("kafka.sasl_password", REF(kafka.sasl_password)),
    Str("kafka.ssl_ca_location", REF(kafka.ssl_ca_location)),
    Int("kafka.topic_partitions", REF(kafka.topic_partitions), 1, 10'000),
    // -1 = broker default; ValidateConfig rejects 0.
    Int("kafka.replication_factor", REF(kafka.replication_factor), -1, 100),
    Int("kafka.min_insync_replicas", REF(kafka.min_insync_replicas), -1, 100),
    Bool("kafka.producer.idempotent", REF(kafka.idempotent)),
    Str("kafka.producer.acks", REF(kafka.acks), kAcks),
    Str("kafka.producer.compression", REF(kafka.compression), kCompressions),
    Dur("kafka.producer.linger", REF(kafka.linger), 0s, 10s),
    Bytes("kafka.producer.batch_bytes", REF(kafka.batch_bytes), 1 << 10, 256 << 20),
    Str("kafka.producer.partitioner", REF(kafka.partitioner), kPartitioners),
    Dur("kafka.consumer.session_timeout", REF(kafka.session_timeout), 1s, 5min),
    Dur("kafka.consumer.heartbeat_interval", REF(kafka.heartbeat_interval), 100ms, 5min),
    // librdkafka caps max.poll.interval.ms at 86400000.
    Dur("kafka.consumer.max_poll_interval", REF(kafka.max_poll_interval), 1s, 24h),
    Str("kafka.consumer.assignor", REF(kafka.assignor), kAssignors),
    Str("kafka.consumer.group_instance_id", REF(kafka.group_instance_id)),
    Str("kafka.consumer.isolation_level", REF(kafka.isolation_level), kIsolationLevels),
    Map("kafka.properties", REF(kafka.properties)),

    List("nats.urls", REF(nats.urls)),
    Str("nats.name", REF(nats.name)),
    Str("nats.user", REF(nats.user)),
    Secret("nats.password", REF(nats.password)),
    Secret("nats.token", REF(nats.token)),
    Str("nats.nkey_seed_file", REF(nats.nkey_seed_file)),
    Str("nats.credentials_file", REF(nats.credentials_file)),
    Str("nats.tls_ca_file", REF(nats.tls_ca_file)),
    Str("nats.tls_cert_file", REF(nats.tls_cert_file)),
    Str("nats.tls_key_file", REF(nats.tls_key_file)),
    Int("nats.max_reconnects", REF(nats.max_reconnects), -1, 1'000'000),
    Dur("nats.reconnect_wait", REF(nats.reconnect_wait), 0s, 5min),
    Dur("nats.connect_timeout", REF(nats.connect_timeout), 100ms, 5min),
    Bool("nats.send_asap", REF(nats.send_asap)),
    Enum("nats.layout", REF(nats.layout), kNatsLayouts),
    Str("nats.stream", REF(nats.stream)),
    List("nats.subjects", REF(nats.subjects)),
    Str("nats.storage", REF(nats.storage), kNatsStorages),
    Int("nats.replicas", REF(nats.replicas), 1, 5),
    Dur("nats.max_age", REF(nats.max_age), 0s),
    Bytes("nats.max_bytes", REF(nats.max_bytes), -1),
    Int("nats.max_msgs", REF(nats.max_msgs), -1, kNoMax),
    Dur("nats.duplicate_window", REF(nats.duplicate_window), 0s, 24h),
    Dur("nats.ack_wait", REF(nats.ack_wait), 1s, 1h),
    Int("nats.partitions", REF(nats.partitions), 1, 1024),
    Int("nats.max_deliver", REF(nats.max_deliver), -1),
    Bool("nats.notices", REF(nats.notices)),

    Dur("publisher.timeout", REF(publisher.timeout), 0s, 10min),
    Int("publisher.max_in_flight", REF(publisher.max_in_flight), 1, 10'000'000),
    Enum("publisher.payload_format", REF(publisher.payload_format), kPayloadFormatNames),
    Enum("publisher.jxt_compat", REF(publisher.jxt_compat), kWireGenerationNames),
    Real("publisher.rate_limit", REF(publisher.rate_limit), 0, 1'000'000'000),
    Int("publisher.rate_burst", REF(publisher.rate_burst), 0, 1'000'000'000),
    Int("publisher.backlog_in_flight", REF(publisher.backlog_in_flight), 1, 10'000'000),
    Dur("publisher.backlog_latency", REF(publisher.backlog_latency), 0s, 1h),

    Str("subscriber.group", REF(subscriber.group)),
    Int("subscriber.workers", REF(subscriber.workers), 0, 1024),
    Int("subscriber.lanes", REF(subscriber.lanes), 1, 1'000'000),
    Enum("subscriber.ordering", REF(subscriber.ordering), kOrderingNames),
    Int("subscriber.window", REF(subscriber.window), 1, 1'000'000),
    Bytes("subscriber.memory_budget", REF(subscriber.memory_budget), 64 << 10, int64_t{64} << 30),
    Int("subscriber.max_poll_records", REF(subscriber.max_poll_records), 1, 100'000),
    Dur("subscriber.commit_interval", REF(subscriber.commit_interval), 1ms, 1min),
    Enum("subscriber.auto_offset_reset", REF(subscriber.auto_offset_reset), kOffsetResetNames),
    Dur("subscriber.handler_timeout", REF(subscriber.handler_timeout), 0s, 24h),
    Enum("subscriber.payload_format", REF(subscriber.payload_format), kPayloadFormatNames),
    Str("subscriber.dead_letter_suffix", REF(subscriber.dead_letter_suffix)),
    Real("subscriber.rate_limit", REF(subscriber.rate_limit), 0, 1'000'000'000),
    Int("subscriber.rate_burst", REF(subscriber.rate_burst), 0, 1'000'000'000),
    Dur("subscriber.backlog_interval", REF(subscriber.backlog_interval), 1ms, 1h),
    Int("subscriber.backlog_lag", REF(subscriber.backlog_lag), 1, int64_t{1} << 62),
    Dur("subscriber.stall_timeout", REF(subscriber.stall_timeout), 0s, 24h),
    Int("subscriber.retry.max_attempts", REF(subscriber.retry.max_attempts), 1, 1000),
    Dur("subscriber.retry.initial_backoff", REF(subscriber.retry.initial_backoff), 0s, 1h),
    Dur("subscriber.retry.max_backoff", REF(subscriber.retry.max_backoff), 0s, 24h),
    Real("subscriber.retry.multiplier", REF(subscriber.retry.multiplier), 1, 100),
    Real("subscriber.retry.jitter", REF(subscriber.retry.jitter), 0, 1),

    Bool("health_check.enabled", REF(health_check.enabled)),
    Str("health_check.topic", REF(health_check.topic)),
    // Sub-second intervals are for tests; production uses seconds to minutes.
    Dur("health_check.interval", REF(health_check.interval), 10ms, 24h),
    Dur("health_check.timeout", REF(health_check.timeout), 1ms, 5min),
    Int("health_check.failure_threshold", REF(health_check.failure_threshold), 1, 1000),
    Bool("health_check.publish", REF(health_check.publish)),
    Bool("health_check.monitor", REF(health_check.monitor)),

    Bool("metrics.enabled", REF(metrics.enabled)),
    Str("metrics.listen", REF(metrics.listen)),
};

#undef REF

// The keys of a topic's section (topics.<name>.<key>); see topic_fields.h.
template <typename T>
struct Unwrap {
  using type = T;
};
template <typename T>
struct Unwrap<std::optional<T>> {
  using type = T;
};

template <typename Ref>
using TopicMemberType = std::remove_cvref_t<std::invoke_result_t<Ref, TopicConfig&>>;

template <typename T>
constexpr bool kIsOptional = !std::is_same_v<typename Unwrap<T>::type, T>;

template <typename Ref>
bool TopicPresent(const TopicConfig& t) {
  if constexpr (kIsOptional<TopicMemberType<Ref>>) {
    return Ref{}(t).has_value();
  } else {
    return true;
  }
}

template <typename Ref>
Value TopicGet(const TopicConfig& t) {
  if constexpr (kIsOptional<TopicMemberType<Ref>>) {
    return ToValue(*Ref{}(t));
  } else {
    return ToValue(Ref{}(t));
  }
}

template <typename Ref>
void TopicSet(TopicConfig& t, const Value& value) {
  typename Unwrap<TopicMemberType<Ref>>::type v{};
  FromValue(value, v);
  Ref{}(t) = v;
}

template <typename Ref>
constexpr TopicField MakeTopic(std::string_view key, Kind kind, int64_t min, int64_t max,
                               std::span<const std::string_view> allowed = {}) {
  return TopicField{Field{key, kind, nullptr, nullptr, min, max, allowed, false},
                    &TopicPresent<Ref>, &TopicGet<Ref>, &TopicSet<Ref>};
}

template <typename Ref>
constexpr TopicField TopicEnum(std::string_view key, Ref, std::span<const std::string_view> names) {
  return MakeTopic<Ref>(key, Kind::kEnum, 0, static_cast<int64_t>(names.size()) - 1, names);
}

template <typename Ref>
constexpr TopicField TopicInt(std::string_view key, Ref, int64_t min, int64_t max) {
  return MakeTopic<Ref>(key, Kind::kInt, min, max);
}

template <typename Ref>
constexpr TopicField TopicDur(std::string_view key, Ref, Duration min, Duration max) {
  return MakeTopic<Ref>(key, Kind::kDuration, min.count(), max.count());
}

#define TOPIC_REF(member) \
  [](auto& t) -> auto& { return t.member; }

// 100 years: longer than any broker keeps anything, and far from overflow.
constexpr Duration kMaxRetention = 24h * 365 * 100;

constexpr TopicField kTopicFields[] = {
    TopicEnum("persistence", TOPIC_REF(persistence), kPersistenceNames),
    TopicInt("partitions", TOPIC_REF(partitions), 0, 10'000),
    TopicDur("retention", TOPIC_REF(retention), 0s, kMaxRetention),
    TopicInt("replication", TOPIC_REF(replication), 0, 100),
    TopicEnum("format", TOPIC_REF(format), kEventFormatNames),
    TopicEnum("payload_format", TOPIC_REF(payload_format), kPayloadFormatNames),
    TopicEnum("ordering", TOPIC_REF(ordering), kOrderingNames),
};

#undef TOPIC_REF

std::string_view EnumName(std::span<const std::string_view> names, int index) {
  if (index < 0 || static_cast<size_t>(index) >= names.size()) return "unknown";
  return names[index];
}

}  // namespace

std::span<const Field> Fields() { return kFields; }

std::span<const TopicField> TopicFields() { return kTopicFields; }

const Field* FindField(std::string_view path) {
  for (const Field& f : kFields) {
    if (f.path == path) return &f;
  }
  return nullptr;
}

bool IsSection(std::string_view path) {
  return std::any_of(std::begin(kFields), std::end(kFields), [&](const Field& f) {
    return f.path.size() > path.size() && f.path.starts_with(path) && f.path[path.size()] == '.';
  });
}

std::string EnvName(std::string_view path) {
  std::string name = "EVBUS_";
  for (char ch : path) {
    name += ch == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  }
  return name;
}

bool IsSecretPropertyKey(std::string_view key) {
  std::string lower(key);
  for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  for (std::string_view word : {"password", "secret", "key", "pem"}) {
    if (lower.find(word) != std::string::npos) return true;
  }
  return false;
}

std::string JoinAllowed(const Field& f) {
  std::string out;
  for (std::string_view name : f.allowed) {
    if (!out.empty()) out += '|';
    out += name.empty() ? std::string("\"\"") : std::string(name);
  }
  return out;
}

std::string QuoteString(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (char ch : s) {
    auto u = static_cast<unsigned char>(ch);
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (u < 0x20 || u == 0x7f) {
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    } else {
      out += ch;
    }
  }
  out += '"';
  return out;
}

}  // namespace config_internal

using config_internal::EnumName;

std::string_view ToString(TransportKind v) {
  return EnumName(config_internal::kTransportNames, static_cast<int>(v));
}
std::string_view ToString(Ordering v) {
  return EnumName(config_internal::kOrderingNames, static_cast<int>(v));
}
std::string_view ToString(OffsetReset v) {
  return EnumName(config_internal::kOffsetResetNames, static_cast<int>(v));
}
std::string_view ToString(TopicStrategy v) {
  return EnumName(config_internal::kTopicStrategyNames, static_cast<int>(v));
}
std::string_view ToString(PayloadFormat v) {
  return EnumName(config_internal::kPayloadFormatNames, static_cast<int>(v));
}

std::string_view ToString(NatsLayout v) {
  return EnumName(config_internal::kNatsLayouts, static_cast<int>(v));
}

std::string_view ToString(Persistence v) {
  return EnumName(config_internal::kPersistenceNames, static_cast<int>(v));
}

std::string_view ToString(EventFormat v) {
  return EnumName(config_internal::kEventFormatNames, static_cast<int>(v));
}

std::string_view ToString(WireGeneration v) {
  return EnumName(config_internal::kWireGenerationNames, static_cast<int>(v));
}

}  // namespace evbus
