// Tests of Config loading, environment overrides, validation and formatting.
// Most are driven by the field table, so a new field is covered automatically.

#include "evbus/config.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <limits>
#include <optional>
#include <set>

#include "config/config_fields.h"

namespace evbus {
namespace {

using config_internal::Field;
using config_internal::Fields;
using config_internal::FormatScalar;
using config_internal::Kind;
using config_internal::StringMap;
using config_internal::Value;
using namespace std::chrono_literals;

// The number of members of aggregate T: the largest N for which T{a1..aN}
// compiles with arguments that convert to anything.
struct AnyMember {
  template <typename T>
  operator T() const;  // NOLINT: only used unevaluated
};

template <typename T, typename... Args>
constexpr size_t MemberCount() {
  if constexpr (requires { T{Args{}..., AnyMember{}}; }) {
    return MemberCount<T, Args..., AnyMember>();
  } else {
    return sizeof...(Args);
  }
}

testing::AssertionResult StartsWith(const std::string& s, std::string_view prefix) {
  if (s.starts_with(prefix)) return testing::AssertionSuccess();
  return testing::AssertionFailure() << "\"" << s << "\" does not start with \"" << prefix << "\"";
}

testing::AssertionResult Contains(const std::string& s, std::string_view part) {
  if (s.find(part) != std::string::npos) return testing::AssertionSuccess();
  return testing::AssertionFailure() << "\"" << s << "\" does not contain \"" << part << "\"";
}

size_t LeavesUnder(std::string_view prefix) {
  size_t n = 0;
  for (const Field& f : Fields()) n += f.path.starts_with(prefix) ? 1 : 0;
  return n;
}

// The first field (by path) whose values differ, or "" when none does.
std::string FirstDifference(const Config& a, const Config& b) {
  for (const Field& f : Fields()) {
    if (f.get(a) != f.get(b)) return std::string(f.path);
  }
  return "";
}

// `path` = `value` as a YAML document, with one nested mapping per section.
std::string YamlDoc(std::string_view path, std::string_view value) {
  std::string out;
  std::string indent;
  for (size_t dot; (dot = path.find('.')) != std::string_view::npos; indent += "  ") {
    out += fmt::format("{}{}:\n", indent, path.substr(0, dot));
    path.remove_prefix(dot + 1);
  }
  return out + fmt::format("{}{}: {}\n", indent, path, value);
}

// A value for `f` that differs from its default and is in range, with its
// YAML and environment-variable texts.
struct Sample {
  Value value;
  std::string yaml;
  std::string env;
};

Sample MakeSample(const Field& f) {
  const Value def = f.get(Config());
  switch (f.kind) {
    case Kind::kBool: {
      bool b = !std::get<bool>(def);
      return {b, b ? "true" : "false", b ? "TRUE" : "FALSE"};
    }
    case Kind::kInt:
    case Kind::kInt64:
    case Kind::kBytes:
    case Kind::kDuration: {
      int64_t step = f.kind == Kind::kDuration ? 1'000'000 : f.kind == Kind::kBytes ? 1024 : 1;
      int64_t n = std::get<int64_t>(def);
      n = n <= f.max - step ? n + step : n - step;
      std::string text = FormatScalar(f, n);
      return {n, text, text};
    }
    case Kind::kDouble: {
      double d = std::get<double>(def);
      d = d + 0.5 <= static_cast<double>(f.max) ? d + 0.5 : d - 0.5;
      return {d, fmt::format("{}", d), fmt::format("{}", d)};
    }
    case Kind::kEnum: {
      int64_t n = (std::get<int64_t>(def) + 1) % static_cast<int64_t>(f.allowed.size());
      return {n, std::string(f.allowed[n]), std::string(f.allowed[n])};
    }
    case Kind::kString: {
      const std::string& old = std::get<std::string>(def);
      auto other = std::find_if(f.allowed.begin(), f.allowed.end(),
                                [&](std::string_view a) { return a != old; });
      std::string s = other == f.allowed.end() ? old + "-x" : std::string(*other);
      return {s, config_internal::QuoteString(s), s};
    }
    case Kind::kStringList:
      return {std::vector<std::string>{"h1:9092", "h2:9093"}, "[h1:9092, \"h2:9093\"]",
              "h1:9092, h2:9093"};
    case Kind::kStringMap:
      return {StringMap{{"client.rack", "r1"}, {"fetch.wait.max.ms", "50"}},
              "{fetch.wait.max.ms: 50, \"client.rack\": r1}",
              "fetch.wait.max.ms=50, client.rack=r1"};
  }
  return {};
}

// Checks that `c` differs from the defaults in field `changed` only, where it
// holds `value`.
void ExpectOnlyChanged(const Config& c, const Field& changed, const Value& value) {
  const Config defaults;
  for (const Field& f : Fields()) {
    const Value& want = &f == &changed ? value : f.get(defaults);
    EXPECT_TRUE(f.get(c) == want) << "setting " << changed.path << " changed " << f.path;
  }
}

std::string LoadError(std::string_view yaml) {
  Result<Config> r = LoadConfigString(yaml);
  if (r.ok()) return "(loaded OK)";
  EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument) << yaml;
  return r.status().message();
}

std::string ValidateError(const std::function<void(Config&)>& change) {
  Config c;
  change(c);
  Status s = ValidateConfig(c);
  return s.ok() ? "" : s.message();
}

TEST(ConfigFields, TableCoversEveryConfigMember) {
  size_t top_level = 0;
  for (const Field& f : Fields()) top_level += f.path.find('.') == std::string_view::npos;
  EXPECT_EQ(MemberCount<Config>(), top_level + 8);  // + memory, kafka, ..., metrics, topics
  EXPECT_EQ(MemberCount<MemoryConfig>(), LeavesUnder("memory."));
  EXPECT_EQ(MemberCount<KafkaConfig>(), LeavesUnder("kafka."));
  EXPECT_EQ(MemberCount<NatsConfig>(), LeavesUnder("nats."));
  EXPECT_EQ(MemberCount<PublisherConfig>(), LeavesUnder("publisher."));
  EXPECT_EQ(MemberCount<SubscriberConfig>(),
            LeavesUnder("subscriber.") - LeavesUnder("subscriber.retry.") + 1);
  EXPECT_EQ(MemberCount<RetryPolicy>(), LeavesUnder("subscriber.retry."));
  EXPECT_EQ(MemberCount<HealthCheckConfig>(), LeavesUnder("health_check."));
  EXPECT_EQ(MemberCount<MetricsConfig>(), LeavesUnder("metrics."));
}

// Sections must also be contiguous in the table; the format round trips below
// would fail with a duplicate key if one were reopened.
TEST(ConfigFields, PathsAndEnvNamesAreUnique) {
  std::set<std::string> paths, env_names;
  for (const Field& f : Fields()) {
    EXPECT_TRUE(paths.insert(std::string(f.path)).second) << f.path;
    std::string env = config_internal::EnvName(f.path);
    EXPECT_TRUE(env_names.insert(env).second) << env;
    EXPECT_FALSE(config_internal::IsNonConfigEnvName(env)) << env;
    if (f.kind == Kind::kInt) {
      EXPECT_GE(f.min, std::numeric_limits<int>::min()) << f.path;
      EXPECT_LE(f.max, std::numeric_limits<int>::max()) << f.path;
    }
    EXPECT_TRUE(config_internal::CheckValue(f, f.get(Config())).ok()) << f.path;
  }
  EXPECT_EQ(config_internal::EnvName("subscriber.retry.max_attempts"),
            "EVBUS_SUBSCRIBER_RETRY_MAX_ATTEMPTS");
}

TEST(ConfigLoad, EveryFieldLoadsFromYamlAndFormatsBack) {
  for (const Field& f : Fields()) {
    Sample sample = MakeSample(f);
    Config c;
    Status s = config_internal::ParseYamlInto(YamlDoc(f.path, sample.yaml), c);
    ASSERT_TRUE(s.ok()) << f.path << ": " << s.ToString();
    ExpectOnlyChanged(c, f, sample.value);
    if (f.secret) continue;  // printed as "***"
    Config back;
    s = config_internal::ParseYamlInto(FormatConfigYaml(c), back);
    ASSERT_TRUE(s.ok()) << f.path << ": " << s.ToString();
    EXPECT_EQ(FirstDifference(c, back), "") << f.path;
  }
}

TEST(ConfigLoad, EmptyDocumentGivesValidDefaults) {
  EXPECT_TRUE(ValidateConfig(Config()).ok());
  for (std::string_view yaml : {"", "# just a comment\n", "---\n", "{}"}) {
    Result<Config> c = LoadConfigString(yaml);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    EXPECT_EQ(FirstDifference(*c, Config()), "");
  }
}

TEST(ConfigLoad, UnknownKeyNamesItsPath) {
  EXPECT_EQ(LoadError("transprt: kafka\n"), "transprt: unknown key");
  EXPECT_EQ(LoadError("subscriber:\n  windw: 5\n"), "subscriber.windw: unknown key");
  EXPECT_EQ(LoadError("subscriber:\n  retry:\n    max_atempts: 3\n"),
            "subscriber.retry.max_atempts: unknown key");
  EXPECT_EQ(LoadError("kafka:\n  consumer:\n    session_timout: 5s\n"),
            "kafka.consumer.session_timout: unknown key");
  EXPECT_EQ(LoadError("kafka:\n  producer:\n    acks:\n      x: 1\n"),
            "kafka.producer.acks: expected a string, got a mapping");
  EXPECT_TRUE(StartsWith(LoadError("subscriber.window: 5\n"), "subscriber.window: unknown key"));
}

TEST(ConfigLoad, OutOfRangeNumbersNameThePathAndValue) {
  int checked = 0;
  for (const Field& f : Fields()) {
    std::vector<Value> bad;
    if (f.kind == Kind::kDouble) {
      bad = {static_cast<double>(f.min) - 1, static_cast<double>(f.max) + 1};
    } else if (f.kind == Kind::kInt || f.kind == Kind::kInt64 || f.kind == Kind::kBytes ||
               f.kind == Kind::kDuration) {
      if (f.min != config_internal::kNoMin) bad.push_back(f.min - 1);
      if (f.max != config_internal::kNoMax) bad.push_back(f.max + 1);
    }
    for (const Value& v : bad) {
      std::string text = FormatScalar(f, v);
      EXPECT_EQ(
          LoadError(YamlDoc(f.path, text)),
          fmt::format("{}: {} is out of range {}", f.path, text, config_internal::FormatRange(f)));
      ++checked;
    }
  }
  EXPECT_GT(checked, 50);
  EXPECT_EQ(LoadError("subscriber:\n  window: 0\n"),
            "subscriber.window: 0 is out of range [1, 1000000]");
  EXPECT_EQ(LoadError("subscriber:\n  retry:\n    initial_backoff: 2h\n"),
            "subscriber.retry.initial_backoff: 2h is out of range [0s, 1h]");
  EXPECT_EQ(LoadError("subscriber:\n  window: 99999999999999999999\n"),
            "subscriber.window: 99999999999999999999 is out of range [1, 1000000]");
  EXPECT_EQ(LoadError("nats:\n  max_age: -1s\n"), "nats.max_age: -1s is out of range [0s, inf)");
}

TEST(ConfigLoad, WrongTypesNameThePathAndValue) {
  EXPECT_EQ(LoadError("subscriber:\n  window: abc\n"),
            "subscriber.window: \"abc\" is not an integer");
  EXPECT_EQ(LoadError("subscriber:\n  window: 1.5\n"),
            "subscriber.window: \"1.5\" is not an integer");
  EXPECT_EQ(LoadError("subscriber:\n  window: [1, 2]\n"),
            "subscriber.window: expected an integer, got a list");
  EXPECT_EQ(LoadError("subscriber:\n  window:\n"),
            "subscriber.window: missing value, expected an integer");
  EXPECT_EQ(LoadError("metrics:\n  enabled: maybe\n"),
            "metrics.enabled: \"maybe\" is not a boolean (true or false)");
  EXPECT_EQ(LoadError("subscriber:\n  retry:\n    jitter: .nan\n"),
            "subscriber.retry.jitter: \".nan\" is not a number");
  EXPECT_EQ(LoadError("kafka:\n  brokers:\n    a: b\n"),
            "kafka.brokers: expected a list of strings, got a mapping");
  EXPECT_EQ(LoadError("kafka:\n  brokers: [a:1, [b]]\n"),
            "kafka.brokers[1]: expected a string, got a list");
  EXPECT_EQ(LoadError("kafka:\n  properties: [a]\n"),
            "kafka.properties: expected a mapping of strings, got a list");
  EXPECT_EQ(LoadError("subscriber: 5\n"), "subscriber: expected a mapping, got \"5\"");
  EXPECT_EQ(LoadError("- a\n- b\n"), "top level: expected a mapping, got a list");
  EXPECT_EQ(LoadError("subscriber:\n  window: 1\n  window: 2\n"),
            "subscriber.window: duplicate key");
  EXPECT_EQ(LoadError("a: 1\n---\nb: 2\n"), "expected one YAML document, got more");
}

TEST(ConfigLoad, DurationForms) {
  const Field& f = *config_internal::FindField("close_timeout");
  auto parse = [&](std::string_view text) -> std::optional<Duration> {
    Result<Value> v = config_internal::ParseScalar(f, text);
    return v.ok() ? std::optional(Duration(std::get<int64_t>(*v))) : std::nullopt;
  };
  // A bare integer is milliseconds.
  const std::pair<std::string_view, Duration> good[] = {
      {"250ms", 250ms},
      {"5s", 5s},
      {"1m30s", 90s},
      {"1.5h", 90min},
      {"10us", 10us},
      {"2\xc2\xb5s", 2us},
      {"100ns", 100ns},
      {"0", 0s},
      {".5s", 500ms},
      {"-5s", -5s},
      {"250", 250ms},
      {"1s500ms", 1500ms},
      {"1h2m3s4ms5us6ns", 1h + 2min + 3s + 4ms + 5us + 6ns}};
  for (auto [text, want] : good) EXPECT_EQ(parse(text), want) << text;
  for (std::string_view bad :
       {"", "abc", "s", "1.5", "1m30", "5S", "1..5s", "--5s", "5 s", "5s!"}) {
    EXPECT_EQ(parse(bad), std::nullopt) << bad;
  }
  EXPECT_TRUE(StartsWith(LoadError("close_timeout: 5 parsecs\n"),
                         "close_timeout: \"5 parsecs\" is not a duration (e.g. 250ms"));
  EXPECT_EQ(LoadError("close_timeout: -5s\n"), "close_timeout: -5s is out of range [0s, 1h]");
  EXPECT_EQ(LoadError("close_timeout: 99999999999h\n"),
            "close_timeout: 99999999999h is out of range [0s, 1h]");
}

TEST(ConfigLoad, ByteSizeForms) {
  const Field& f = *config_internal::FindField("memory.retention_bytes");
  auto parse = [&](std::string_view text) -> std::optional<int64_t> {
    Result<Value> v = config_internal::ParseScalar(f, text);
    return v.ok() ? std::optional(std::get<int64_t>(*v)) : std::nullopt;
  };
  const std::pair<std::string_view, int64_t> good[] = {
      {"64MiB", 64 << 20},    {"512KiB", 512 << 10}, {"1GiB", 1 << 30}, {"1TiB", 1LL << 40},
      {"1GB", 1'000'000'000}, {"10MB", 10'000'000},  {"1KB", 1000},     {"1kib", 1024},
      {"2 MiB", 2 << 20},     {"1024", 1024},        {"1024B", 1024}};
  for (auto [text, want] : good) EXPECT_EQ(parse(text), want) << text;
  for (std::string_view bad : {"", "MiB", "1.5GiB", "10XB", "1iB", "1KiBs", "-", "1 2"}) {
    EXPECT_EQ(parse(bad), std::nullopt) << bad;
  }
  EXPECT_TRUE(StartsWith(LoadError("memory:\n  retention_bytes: 10XB\n"),
                         "memory.retention_bytes: \"10XB\" is not a byte size"));
  EXPECT_EQ(LoadError("memory:\n  retention_bytes: 2TiB\n"),
            "memory.retention_bytes: 2TiB is out of range [1KiB, 1TiB]");
}

TEST(ConfigLoad, BadEnumValueListsTheAllowedValues) {
  EXPECT_EQ(LoadError("subscriber:\n  ordering: random\n"),
            "subscriber.ordering: \"random\" is not one of per_key|per_partition|none");
  EXPECT_EQ(LoadError("transport: rabbit\n"),
            "transport: \"rabbit\" is not one of memory|kafka|nats");
  EXPECT_EQ(LoadError("kafka:\n  producer:\n    compression: brotli\n"),
            "kafka.producer.compression: \"brotli\" is not one of none|gzip|snappy|lz4|zstd");
  for (const Field& f : Fields()) {
    if (f.kind != Kind::kEnum) continue;
    for (size_t i = 0; i < f.allowed.size(); ++i) {
      Config c;
      ASSERT_TRUE(config_internal::ParseYamlInto(YamlDoc(f.path, f.allowed[i]), c).ok());
      EXPECT_TRUE(f.get(c) == Value(static_cast<int64_t>(i))) << f.path << " " << f.allowed[i];
    }
  }
}

TEST(ConfigLoad, SyntaxErrorReportsLineAndColumn) {
  EXPECT_TRUE(StartsWith(LoadError("subscriber:\n  window: 5\n  retry: [1, 2\n"),
                         "YAML error at line 4, column 1: "));
  EXPECT_TRUE(StartsWith(LoadError("a: b: c\n"), "YAML error at line 1, column 5: "));
}

TEST(ConfigLoad, MalformedInputNeverThrows) {
  std::string deep(100'000, '[');
  std::string binary("\0\xff\xfe:\x01\n\0", 7);
  for (std::string_view yaml :
       {std::string_view("&a [*a]"), std::string_view("{"),
        std::string_view("kafka: &a {producer: *a}"), std::string_view("*unknown"),
        std::string_view(deep), std::string_view(binary), std::string_view("? [a]\n: 1\n")}) {
    EXPECT_FALSE(LoadConfigString(yaml).ok());
  }
  EXPECT_EQ(LoadError(deep), "YAML error at line 1, column 1: nested too deeply");
  // yaml-cpp 0.7's LoadAll would allocate forever on these.
  EXPECT_EQ(LoadError(",+:"), "YAML error at line 1, column 1: unexpected character");
  EXPECT_EQ(LoadError("a: 1\n---\n,"), "expected one YAML document, got more");
}

TEST(ConfigLoad, ListShorthandAndPropertyValues) {
  Result<Config> c = LoadConfigString("kafka:\n  brokers: a:1\n  properties: {x.y: true}\n");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->kafka.brokers, std::vector<std::string>{"a:1"});  // one string = a list of one
  EXPECT_EQ(c->kafka.properties, (StringMap{{"x.y", "true"}}));
  EXPECT_EQ(LoadError("kafka:\n  properties:\n    a: {b: c}\n"),
            "kafka.properties.a: expected a string, got a mapping");
}

TEST(ConfigLoad, MissingFileIsNotFound) {
  Result<Config> c = LoadConfigFile("/nonexistent/dir/evbus.yaml");
  EXPECT_EQ(c.status().code(), ErrorCode::kNotFound);
  EXPECT_TRUE(Contains(c.status().message(), "/nonexistent/dir/evbus.yaml"));
}

TEST(ConfigLoad, FileErrorsNameTheFile) {
  std::string path = testing::TempDir() + "/config_test_bad.yaml";
  std::ofstream(path) << "subscriber:\n  window: 0\n";
  Result<Config> c = LoadConfigFile(path);
  EXPECT_EQ(c.status().message(), path + ": subscriber.window: 0 is out of range [1, 1000000]");
  std::remove(path.c_str());
}

TEST(ConfigLoad, ExampleFileLoads) {
  Result<Config> c = LoadConfigFile(EVBUS_SOURCE_DIR "/examples/evbus.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->transport, TransportKind::kMemory);
  EXPECT_EQ(c->service_name, "orders-service");
  EXPECT_EQ(c->subscriber.memory_budget, 64 << 20);
}

// README's "Running on a cluster" settings, as the failover suite runs them.
TEST(ConfigLoad, ClusterExamplesReplicateThreeWays) {
  Result<Config> kafka = LoadConfigFile(EVBUS_SOURCE_DIR "/examples/kafka-cluster.yaml");
  ASSERT_TRUE(kafka.ok()) << kafka.status().ToString();
  EXPECT_EQ(kafka->kafka.brokers.size(), 3u);
  EXPECT_EQ(kafka->kafka.replication_factor, 3);
  EXPECT_EQ(kafka->kafka.min_insync_replicas, 2);
  EXPECT_EQ(kafka->kafka.acks, "all");
  EXPECT_TRUE(kafka->kafka.idempotent);
  Result<Config> nats = LoadConfigFile(EVBUS_SOURCE_DIR "/examples/nats-cluster.yaml");
  ASSERT_TRUE(nats.ok()) << nats.status().ToString();
  EXPECT_EQ(nats->nats.urls.size(), 3u);
  EXPECT_EQ(nats->nats.replicas, 3);
}

TEST(ConfigValidate, RangeMessages) {
  EXPECT_EQ(ValidateError([](Config& c) { c.subscriber.retry.initial_backoff = 2h; }),
            "subscriber.retry.initial_backoff: 2h is out of range [0s, 1h]");
  EXPECT_EQ(ValidateError([](Config& c) { c.subscriber.memory_budget = 1024; }),
            "subscriber.memory_budget: 1KiB is out of range [64KiB, 64GiB]");
  EXPECT_EQ(ValidateError([](Config& c) { c.subscriber.retry.jitter = NAN; }),
            "subscriber.retry.jitter: nan is out of range [0, 1]");
  EXPECT_EQ(ValidateError([](Config& c) { c.subscriber.ordering = static_cast<Ordering>(9); }),
            "subscriber.ordering: 9 is not one of per_key|per_partition|none");
  EXPECT_EQ(ValidateError([](Config& c) { c.kafka.acks = "2"; }),
            "kafka.producer.acks: \"2\" is not one of all|1|0");
}

TEST(ConfigValidate, CrossFieldRules) {
  EXPECT_EQ(ValidateError([](Config& c) { c.transport = TransportKind::kKafka; }),
            "kafka.brokers: required when transport is kafka");
  EXPECT_EQ(ValidateError([](Config& c) { c.kafka.brokers = {"a:9092", "[::1]:9093"}; }), "");
  EXPECT_EQ(ValidateError([](Config& c) { c.kafka.brokers = {"localhost"}; }),
            "kafka.brokers[0]: \"localhost\" is not host:port");
  EXPECT_EQ(ValidateError([](Config& c) {
              c.kafka.brokers = {"a:1", "b:70000"};
            }),
            "kafka.brokers[1]: \"b:70000\" has an invalid port (expected 1..65535)");
  EXPECT_EQ(ValidateError([](Config& c) { c.kafka.brokers = {"::1:9092"}; }),
            "kafka.brokers[0]: \"::1:9092\" is not host:port (write an IPv6 host as [addr]:port)");
  EXPECT_EQ(ValidateError([](Config& c) { c.transport = TransportKind::kNats; }),
            "nats.urls: required when transport is nats");
  EXPECT_EQ(ValidateError([](Config& c) {
              c.nats.urls = {"nats://a", "tls://b", "ws://c", "wss://d"};
            }),
            "");
  EXPECT_EQ(ValidateError([](Config& c) { c.nats.urls = {"http://a:4222"}; }),
            "nats.urls[0]: \"http://a:4222\" must start with nats://, tls://, ws:// or wss:// and "
            "name a host");
  EXPECT_EQ(ValidateError([](Config& c) { c.kafka.replication_factor = 0; }),
            "kafka.replication_factor: 0 is not allowed (-1 = broker default, else 1..100)");
  EXPECT_EQ(ValidateError(
                [](Config& c) { c.kafka.replication_factor = 3, c.kafka.min_insync_replicas = 4; }),
            "kafka.min_insync_replicas: 4 is more than kafka.replication_factor 3 (no write could "
            "ever be acknowledged)");
  EXPECT_EQ(ValidateError(
                [](Config& c) { c.kafka.replication_factor = 3, c.kafka.min_insync_replicas = 2; }),
            "");
  EXPECT_EQ(ValidateError([](Config& c) { c.kafka.acks = "1"; }),
            "kafka.producer.acks: \"1\" must be all when kafka.producer.idempotent is true");
  EXPECT_EQ(ValidateError([](Config& c) { c.kafka.acks = "1", c.kafka.idempotent = false; }), "");
  EXPECT_EQ(ValidateError([](Config& c) { c.kafka.heartbeat_interval = 10s; }),
            "kafka.consumer.heartbeat_interval: 10s must be less than "
            "kafka.consumer.session_timeout (10s)");
  EXPECT_EQ(
      ValidateError([](Config& c) { c.kafka.max_poll_interval = 5s; }),
      "kafka.consumer.max_poll_interval: 5s must be at least kafka.consumer.session_timeout (10s)");
  EXPECT_EQ(ValidateError([](Config& c) { c.kafka.security_protocol = "sasl_ssl"; }),
            "kafka.sasl_mechanism: required when kafka.security_protocol is sasl_ssl");
  EXPECT_EQ(
      ValidateError([](Config& c) { c.subscriber.retry.max_backoff = 50ms; }),
      "subscriber.retry.max_backoff: 50ms is less than subscriber.retry.initial_backoff (100ms)");
  EXPECT_EQ(ValidateError([](Config& c) { c.metrics.listen = "localhost"; }),
            "metrics.listen: \"localhost\" is not host:port");
  EXPECT_EQ(ValidateError([](Config& c) { c.metrics.listen = "127.0.0.1:0"; }), "");
  EXPECT_EQ(ValidateError([](Config& c) { c.subscriber.dead_letter_suffix = ""; }),
            "subscriber.dead_letter_suffix: must not be empty");
  EXPECT_EQ(ValidateError([](Config& c) { c.service_name = ""; }),
            "service_name: must not be empty");
  EXPECT_EQ(ValidateError([](Config& c) { c.service_name = std::string(255, 's'); }), "");
  EXPECT_EQ(ValidateError([](Config& c) { c.service_name = std::string(256, 's'); }),
            "service_name: is 256 bytes long, the maximum is 255");
  EXPECT_EQ(ValidateError([](Config& c) { c.service_name = std::string("a\0b", 3); }),
            "service_name: contains a NUL byte");
  EXPECT_EQ(ValidateError([](Config& c) { c.kafka.brokers = {std::string("a:1\0", 4)}; }),
            "kafka.brokers[0]: contains a NUL byte");
  EXPECT_EQ(LoadError("service_name: \"a\\0b\"\n"), "service_name: contains a NUL byte");
}

// nats.layout jxt takes jxt-core's stream name and subjects, and nothing else does.
TEST(ConfigValidate, JxtNatsLayoutNeedsItsStreamAndSubjects) {
  auto jxt = [](Config& c) {
    c.nats.layout = NatsLayout::kJxt;
    c.nats.stream = "BUSINESS_STREAM";
    c.nats.subjects = {"business.>"};
  };
  EXPECT_EQ(ValidateError(jxt), "");
  EXPECT_EQ(ValidateError([&](Config& c) { jxt(c), c.nats.stream.clear(); }),
            "nats.stream: required with nats.layout jxt (jxt-core's jetstream.stream.name, e.g. "
            "BUSINESS_STREAM)");
  EXPECT_EQ(ValidateError([&](Config& c) { jxt(c), c.nats.subjects.clear(); }),
            "nats.subjects: required with nats.layout jxt (jxt-core's jetstream.stream.subjects, "
            "e.g. [business.>])");
  EXPECT_EQ(ValidateError([&](Config& c) { jxt(c), c.nats.subjects = {"a..b"}; }),
            "nats.subjects[0]: \"a..b\" is not a NATS subject");
  EXPECT_EQ(ValidateError([](Config& c) { c.nats.subjects = {"business.>"}; }),
            "nats.subjects: only read with nats.layout jxt; layout is partitioned");
  EXPECT_EQ(LoadError("nats:\n  layout: jxt-core\n"),
            "nats.layout: \"jxt-core\" is not one of partitioned|jxt");
  EXPECT_EQ(LoadError("publisher:\n  jxt_compat: v2\n"),
            "publisher.jxt_compat: \"v2\" is not one of current|event_id|seed");
  EXPECT_EQ(LoadError("subscriber:\n  payload_format: json\n"),
            "subscriber.payload_format: \"json\" is not one of raw_json|base64|auto");
}

TEST(ConfigEnv, EveryFieldHasAnOverride) {
  for (const Field& f : Fields()) {
    Sample sample = MakeSample(f);
    Config c;
    Status s =
        config_internal::ApplyEnvOverrides(c, {{config_internal::EnvName(f.path), sample.env}});
    ASSERT_TRUE(s.ok()) << f.path << ": " << s.ToString();
    ExpectOnlyChanged(c, f, sample.value);
  }
}

TEST(ConfigEnv, BadValueNamesTheVariableAndChangesNothing) {
  Config c;
  Status s = config_internal::ApplyEnvOverrides(
      c, {{"EVBUS_SERVICE_NAME", "changed"}, {"EVBUS_SUBSCRIBER_WINDOW", "abc"}});
  EXPECT_EQ(s.message(), "EVBUS_SUBSCRIBER_WINDOW: subscriber.window: \"abc\" is not an integer");
  EXPECT_EQ(c.service_name, "evbus");
  s = config_internal::ApplyEnvOverrides(c, {{"EVBUS_SUBSCRIBER_WINDOW", "0"}});
  EXPECT_EQ(s.message(),
            "EVBUS_SUBSCRIBER_WINDOW: subscriber.window: 0 is out of range [1, 1000000]");
  s = config_internal::ApplyEnvOverrides(c, {{"EVBUS_KAFKA_PROPERTIES", "a=1,oops"}});
  EXPECT_EQ(s.message(), "EVBUS_KAFKA_PROPERTIES: kafka.properties: \"oops\" is not name=value");
}

TEST(ConfigEnv, UnknownVariableIsRejected) {
  Config c;
  Status s = config_internal::ApplyEnvOverrides(c, {{"EVBUS_SUBSCRIBER_WINDOWS", "5"}});
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(StartsWith(s.message(), "EVBUS_SUBSCRIBER_WINDOWS: unknown environment variable"));
  s = config_internal::ApplyEnvOverrides(c, {{"EVBUS_KAFKA_PROPERTIES_LINGER_MS", "5"}});
  EXPECT_TRUE(Contains(s.message(), "EVBUS_KAFKA_PROPERTIES=name=value"));
}

TEST(ConfigEnv, NonConfigVariablesAreIgnored) {
  Config c;
  config_internal::EnvVars vars = {{"PATH", "/bin"}, {"EVBUS_TEST_ANYTHING", "x"}};
  for (const char* name : {"EVBUS_KAFKA_PORT", "EVBUS_KAFKA_DIR", "EVBUS_KAFKA_CONTROLLER_PORT",
                           "EVBUS_KAFKA_BOOTSTRAP", "EVBUS_NATS_PORT", "EVBUS_NATS_DIR",
                           "EVBUS_NATS_MONITOR_PORT", "EVBUS_NATS_URL"}) {
    vars.emplace_back(name, "x");
  }
  EXPECT_TRUE(config_internal::ApplyEnvOverrides(c, vars).ok());
  EXPECT_EQ(FirstDifference(c, Config()), "");
}

TEST(ConfigEnv, ListsAndPropertiesAreCommaSeparated) {
  Config c;  // empty items are skipped; spaces around items and '=' trimmed
  ASSERT_TRUE(config_internal::ApplyEnvOverrides(
                  c, {{"EVBUS_KAFKA_BROKERS", " a:1,,b:2,"}, {"EVBUS_KAFKA_PROPERTIES", "x = 1"}})
                  .ok());
  EXPECT_EQ(c.kafka.brokers, (std::vector<std::string>{"a:1", "b:2"}));
  EXPECT_EQ(c.kafka.properties, (StringMap{{"x", "1"}}));
}

// Sets an environment variable for one scope, restoring the old value after.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    setenv(name, value, 1);
  }
  ~ScopedEnv() { old_ ? setenv(name_, old_->c_str(), 1) : unsetenv(name_); }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(ConfigEnv, ReadsTheProcessEnvironment) {
  Config c;
  {
    ScopedEnv window("EVBUS_SUBSCRIBER_WINDOW", "77");
    ScopedEnv test_only("EVBUS_TEST_CONFIG_IGNORED", "x");
    ASSERT_TRUE(ApplyEnvOverrides(c).ok());
    EXPECT_EQ(c.subscriber.window, 77);
  }
  ScopedEnv typo("EVBUS_SUBSCRIBER_WINDOWZ", "5");
  EXPECT_TRUE(StartsWith(ApplyEnvOverrides(c).message(), "EVBUS_SUBSCRIBER_WINDOWZ: unknown"));
}

TEST(ConfigFormat, OutputLoadsBackToAnEqualConfig) {
  Config c;  // every field changed, then made consistent again
  for (const Field& f : Fields()) f.set(c, MakeSample(f).value);
  c.nats.urls = {"nats://n1:4222", "tls://n2:4222"};
  c.metrics.listen = "0.0.0.0:0";
  c.kafka.replication_factor = 3;
  c.kafka.min_insync_replicas = 2;
  c.kafka.sasl_password = c.nats.password = c.nats.token = "";
  c.kafka.client_id = "weird: \"quoted\" # not a comment \\ \t\x01 \xc3\xbc ~";
  c.kafka.properties["linger.ms"] = "# 5";
  c.kafka.properties[std::string(1500, 'x')] = "needs an explicit YAML key";
  c.nats.max_age = Duration::max();
  c.nats.max_msgs = std::numeric_limits<int64_t>::max();
  ASSERT_TRUE(ValidateConfig(c).ok()) << ValidateConfig(c).ToString();
  std::string yaml = FormatConfigYaml(c);
  Result<Config> back = LoadConfigString(yaml);
  ASSERT_TRUE(back.ok()) << back.status().ToString() << "\n" << yaml;
  EXPECT_EQ(FirstDifference(c, *back), "") << yaml;
  EXPECT_EQ(FormatConfigYaml(*back), yaml);
}

TEST(ConfigFormat, DefaultsAreNestedAndReadable) {
  std::string yaml = FormatConfigYaml(Config());
  for (std::string_view line :
       {"transport: memory\n", "close_timeout: 30s\n", "memory:\n  partitions: 8\n",
        "  retention_bytes: 1GiB\n", "kafka:\n  brokers: []\n",
        "  producer:\n    idempotent: true\n", "  properties: {}\n",
        "  retry:\n    max_attempts: 5\n", "    initial_backoff: 100ms\n", "    multiplier: 2\n",
        "  interval: 2m\n", "  max_age: 24h\n"}) {
    EXPECT_TRUE(Contains(yaml, line));
  }
}

TEST(ConfigFormat, SecretsAreRedacted) {
  Config c;
  c.kafka.sasl_password = "hunter2-sasl";
  c.nats.token = "hunter2-token";
  c.kafka.properties = {{"ssl.key.password", "hunter2-a"},
                        {"sasl.oauthbearer.client.Secret", "hunter2-b"},
                        {"ssl.certificate.pem", "hunter2-c"},
                        {"linger.ms", "5"}};
  std::string yaml = FormatConfigYaml(c);
  EXPECT_FALSE(Contains(yaml, "hunter2"));
  EXPECT_TRUE(Contains(yaml, "  sasl_password: \"***\"\n"));
  EXPECT_TRUE(Contains(yaml, "  token: \"***\"\n"));
  EXPECT_TRUE(Contains(yaml, "  password: \"\"\n"));  // unset secrets stay visibly empty
  EXPECT_TRUE(Contains(yaml, "    \"ssl.key.password\": \"***\"\n"));
  EXPECT_TRUE(Contains(yaml, "    \"linger.ms\": \"5\"\n"));
}

TEST(ConfigFormat, DurationsAndSizesUseTheLoaderForms) {
  using config_internal::FormatBytes;
  using config_internal::FormatDuration;
  const std::pair<Duration, std::string_view> durations[] = {
      {100ms, "100ms"}, {30s, "30s"},        {2min, "2m"}, {24h, "24h"},
      {90s, "1m30s"},   {1500ms, "1s500ms"}, {0s, "0s"},   {-5s, "-5s"}};
  for (auto [d, text] : durations) EXPECT_EQ(FormatDuration(d), text);
  EXPECT_EQ(FormatDuration(Duration::min()), "-2562047h47m16s854ms775us808ns");
  const std::pair<int64_t, std::string_view> sizes[] = {
      {1LL << 30, "1GiB"}, {64 << 20, "64MiB"}, {1000, "1000"}, {0, "0"}, {-1, "-1"}};
  for (auto [n, text] : sizes) EXPECT_EQ(FormatBytes(n), text);
}

TEST(ConfigEnum, ToStringGivesTheTextForms) {
  EXPECT_EQ(ToString(TransportKind::kKafka), "kafka");
  EXPECT_EQ(ToString(Ordering::kPerPartition), "per_partition");
  EXPECT_EQ(ToString(OffsetReset::kLatest), "latest");
  EXPECT_EQ(ToString(TopicStrategy::kCreateOrUpdate), "create_or_update");
  EXPECT_EQ(ToString(PayloadFormat::kBase64), "base64");
  EXPECT_EQ(ToString(static_cast<Ordering>(42)), "unknown");
}

}  // namespace
}  // namespace evbus
