// ValidateConfig: each field against the table (CheckValue), then the rules
// that relate fields to each other.

#include <fmt/format.h>

#include <algorithm>
#include <string>

#include "config/config_fields.h"
#include "config/topic_fields.h"

namespace evbus {
namespace config_internal {
namespace {

constexpr size_t kMaxServiceNameLength = 255;

std::string Bound(const Field& f, int64_t b) {
  if (f.kind == Kind::kDouble) return std::to_string(b);
  return FormatScalar(f, Value(b));
}

Status OutOfRange(const Field& f, const Value& v) {
  return InvalidArgument(
      fmt::format("{}: {} is out of range {}", f.path, FormatScalar(f, v), FormatRange(f)));
}

Status CheckNoNul(std::string_view where, std::string_view s) {
  if (s.find('\0') == std::string_view::npos) return Status();
  return InvalidArgument(fmt::format("{}: contains a NUL byte", where));
}

// What is wrong with `s` as host:port ("" when nothing). IPv6 hosts are
// written in brackets: [::1]:9092.
std::string HostPortProblem(std::string_view s, bool allow_port_zero) {
  std::string_view host;
  std::string_view port;
  if (s.starts_with('[')) {
    size_t close = s.find(']');
    if (close == std::string_view::npos || s.substr(close + 1, 1) != ":") {
      return "is not host:port";
    }
    host = s.substr(1, close - 1);
    port = s.substr(close + 2);
  } else {
    size_t colon = s.rfind(':');
    if (colon == std::string_view::npos) return "is not host:port";
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return "is not host:port (write an IPv6 host as [addr]:port)";
    }
  }
  if (host.empty() || host.find_first_of(" \t/[]") != std::string_view::npos) {
    return "is not host:port (bad host)";
  }
  int number = 0;
  bool digits = !port.empty() && port.size() <= 5 &&
                port.find_first_not_of("0123456789") == std::string_view::npos;
  if (digits) number = std::stoi(std::string(port));
  if (!digits || number > 65535 || (number == 0 && !allow_port_zero)) {
    return fmt::format("has an invalid port (expected {}..65535)", allow_port_zero ? 0 : 1);
  }
  return "";
}

Status CheckHostPort(std::string_view where, std::string_view s, bool allow_port_zero) {
  std::string problem = HostPortProblem(s, allow_port_zero);
  if (problem.empty()) return Status();
  return InvalidArgument(fmt::format("{}: {} {}", where, QuoteString(s), problem));
}

Status CheckKafka(const Config& c) {
  const KafkaConfig& k = c.kafka;
  if (c.transport == TransportKind::kKafka && k.brokers.empty()) {
    return InvalidArgument("kafka.brokers: required when transport is kafka");
  }
  for (size_t i = 0; i < k.brokers.size(); ++i) {
    Status s = CheckHostPort(fmt::format("kafka.brokers[{}]", i), k.brokers[i], false);
    if (!s.ok()) return s;
  }
  if (k.replication_factor == 0) {
    return InvalidArgument(
        "kafka.replication_factor: 0 is not allowed (-1 = broker default, else 1..100)");
  }
  if (k.min_insync_replicas == 0) {
    return InvalidArgument(
        "kafka.min_insync_replicas: 0 is not allowed (-1 = broker default, else 1..100)");
  }
  if (k.replication_factor > 0 && k.min_insync_replicas > k.replication_factor) {
    return InvalidArgument(fmt::format(
        "kafka.min_insync_replicas: {} is more than kafka.replication_factor {} (no write "
        "could ever be acknowledged)",
        k.min_insync_replicas, k.replication_factor));
  }
  if (k.idempotent && k.acks != "all") {
    return InvalidArgument(
        fmt::format("kafka.producer.acks: {} must be all when kafka.producer.idempotent is true",
                    QuoteString(k.acks)));
  }
  if (k.security_protocol.starts_with("sasl_") && k.sasl_mechanism.empty()) {
    return InvalidArgument(fmt::format(
        "kafka.sasl_mechanism: required when kafka.security_protocol is {}", k.security_protocol));
  }
  if (k.heartbeat_interval >= k.session_timeout) {
    return InvalidArgument(
        fmt::format("kafka.consumer.heartbeat_interval: {} must be less than "
                    "kafka.consumer.session_timeout ({})",
                    FormatDuration(k.heartbeat_interval), FormatDuration(k.session_timeout)));
  }
  if (k.max_poll_interval < k.session_timeout) {
    return InvalidArgument(
        fmt::format("kafka.consumer.max_poll_interval: {} must be at least "
                    "kafka.consumer.session_timeout ({})",
                    FormatDuration(k.max_poll_interval), FormatDuration(k.session_timeout)));
  }
  return Status();
}

Status CheckNats(const Config& c) {
  if (c.transport == TransportKind::kNats && c.nats.urls.empty()) {
    return InvalidArgument("nats.urls: required when transport is nats");
  }
  for (size_t i = 0; i < c.nats.urls.size(); ++i) {
    std::string_view url = c.nats.urls[i];
    bool ok = false;
    for (std::string_view scheme : {"nats://", "tls://", "ws://", "wss://"}) {
      ok = ok || (url.starts_with(scheme) && url.size() > scheme.size());
    }
    if (!ok) {
      return InvalidArgument(fmt::format(
          "nats.urls[{}]: {} must start with nats://, tls://, ws:// or wss:// and name a host", i,
          QuoteString(url)));
    }
  }
  if (c.nats.layout == NatsLayout::kJxt) {
    if (c.nats.stream.empty()) {
      return InvalidArgument(
          "nats.stream: required with nats.layout jxt (jxt-core's jetstream.stream.name, "
          "e.g. BUSINESS_STREAM)");
    }
    if (c.nats.subjects.empty()) {
      return InvalidArgument(
          "nats.subjects: required with nats.layout jxt (jxt-core's jetstream.stream.subjects, "
          "e.g. [business.>])");
    }
  } else if (!c.nats.subjects.empty()) {
    return InvalidArgument("nats.subjects: only read with nats.layout jxt; layout is partitioned");
  }
  for (size_t i = 0; i < c.nats.subjects.size(); ++i) {
    const std::string& s = c.nats.subjects[i];
    if (s.empty() || s.front() == '.' || s.back() == '.' || s.find("..") != std::string::npos ||
        s.find_first_of(" \t\r\n") != std::string::npos) {
      return InvalidArgument(
          fmt::format("nats.subjects[{}]: {} is not a NATS subject", i, QuoteString(s)));
    }
  }
  return Status();
}

Status CheckGeneral(const Config& c) {
  if (c.service_name.empty()) return InvalidArgument("service_name: must not be empty");
  if (c.service_name.size() > kMaxServiceNameLength) {
    return InvalidArgument(fmt::format("service_name: is {} bytes long, the maximum is {}",
                                       c.service_name.size(), kMaxServiceNameLength));
  }
  if (c.subscriber.group.empty()) return InvalidArgument("subscriber.group: must not be empty");
  if (c.subscriber.dead_letter_suffix.empty()) {
    return InvalidArgument("subscriber.dead_letter_suffix: must not be empty");
  }
  const RetryPolicy& r = c.subscriber.retry;
  if (r.max_backoff < r.initial_backoff) {
    return InvalidArgument(fmt::format(
        "subscriber.retry.max_backoff: {} is less than subscriber.retry.initial_backoff ({})",
        FormatDuration(r.max_backoff), FormatDuration(r.initial_backoff)));
  }
  if (c.health_check.enabled && c.health_check.topic.empty()) {
    return InvalidArgument("health_check.topic: required when health_check.enabled is true");
  }
  if (c.health_check.timeout > c.health_check.interval) {
    return InvalidArgument(fmt::format(
        "health_check.timeout: {} is longer than health_check.interval ({})",
        FormatDuration(c.health_check.timeout), FormatDuration(c.health_check.interval)));
  }
  if (c.metrics.listen.empty()) return Status();  // no HTTP listener; pull API only
  // Port 0 lets the OS choose (useful in tests).
  return CheckHostPort("metrics.listen", c.metrics.listen, /*allow_port_zero=*/true);
}

}  // namespace

std::string FormatRange(const Field& f) {
  std::string lo = f.min == kNoMin ? "(-inf" : "[" + Bound(f, f.min);
  std::string hi = f.max == kNoMax ? "inf)" : Bound(f, f.max) + "]";
  return lo + ", " + hi;
}

Status CheckValue(const Field& f, const Value& v) {
  switch (f.kind) {
    case Kind::kInt:
    case Kind::kInt64:
    case Kind::kBytes:
    case Kind::kDuration: {
      int64_t n = std::get<int64_t>(v);
      return n < f.min || n > f.max ? OutOfRange(f, v) : Status();
    }
    case Kind::kDouble: {
      double d = std::get<double>(v);  // written so that NaN fails
      bool in_range = d >= static_cast<double>(f.min) && d <= static_cast<double>(f.max);
      return in_range ? Status() : OutOfRange(f, v);
    }
    case Kind::kEnum: {
      int64_t n = std::get<int64_t>(v);
      if (n >= 0 && static_cast<size_t>(n) < f.allowed.size()) return Status();
      return InvalidArgument(fmt::format("{}: {} is not one of {}", f.path, n, JoinAllowed(f)));
    }
    case Kind::kString: {
      const std::string& s = std::get<std::string>(v);
      if (Status st = CheckNoNul(f.path, s); !st.ok()) return st;
      if (f.allowed.empty() ||
          std::find(f.allowed.begin(), f.allowed.end(), s) != f.allowed.end()) {
        return Status();
      }
      return InvalidArgument(
          fmt::format("{}: {} is not one of {}", f.path, QuoteString(s), JoinAllowed(f)));
    }
    case Kind::kStringList: {
      const auto& items = std::get<std::vector<std::string>>(v);
      for (size_t i = 0; i < items.size(); ++i) {
        Status st = CheckNoNul(fmt::format("{}[{}]", f.path, i), items[i]);
        if (!st.ok()) return st;
      }
      return Status();
    }
    case Kind::kStringMap:
      for (const auto& [key, value] : std::get<StringMap>(v)) {
        if (key.empty()) return InvalidArgument(fmt::format("{}: empty property name", f.path));
        std::string where = fmt::format("{}.{}", f.path, QuoteString(key));
        if (Status st = CheckNoNul(where, key); !st.ok()) return st;
        if (Status st = CheckNoNul(where, value); !st.ok()) return st;
      }
      return Status();
    case Kind::kBool:
      return Status();
  }
  return Status();
}

}  // namespace config_internal

Status ValidateConfig(const Config& config) {
  using config_internal::Field;
  for (const Field& f : config_internal::Fields()) {
    if (Status s = config_internal::CheckValue(f, f.get(config)); !s.ok()) return s;
  }
  if (Status s = config_internal::CheckGeneral(config); !s.ok()) return s;
  if (Status s = config_internal::CheckKafka(config); !s.ok()) return s;
  if (Status s = config_internal::CheckNats(config); !s.ok()) return s;
  for (const auto& [topic, settings] : config.topics) {
    if (Status s = config_internal::CheckTopicConfig(config, topic, settings); !s.ok()) return s;
  }
  return Status();
}

}  // namespace evbus
