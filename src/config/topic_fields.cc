// The per-topic settings table and its checks (see topic_fields.h).

#include "config/topic_fields.h"

#include <fmt/format.h>

namespace evbus::config_internal {
namespace {

Status Fail(std::string_view topic, std::string_view key, const std::string& problem) {
  return InvalidArgument(fmt::format("topics.{}.{}: {}", topic, key, problem));
}

}  // namespace

Field TopicFieldAt(const TopicField& field, std::string_view topic, std::string& path) {
  path = fmt::format("topics.{}.{}", topic, field.field.path);
  Field f = field.field;
  f.path = path;
  return f;
}

Status CheckTopicName(std::string_view topic) {
  if (topic.empty()) return InvalidArgument("topics: a topic name is empty");
  if (topic.size() > 249) {
    return InvalidArgument(fmt::format("topics.{}...: the name is {} characters, at most 249",
                                       topic.substr(0, 40), topic.size()));
  }
  for (char ch : topic) {
    const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
    if (!ok) {
      return InvalidArgument(
          fmt::format("topics.{}: the name contains {}; topic names use only A-Z a-z 0-9 . _ -",
                      QuoteString(topic), QuoteString(std::string_view(&ch, 1))));
    }
  }
  return Status();
}

Status CheckTopicConfig(const Config& config, std::string_view topic, const TopicConfig& t) {
  if (Status s = CheckTopicName(topic); !s.ok()) return s;
  std::string path;
  for (const TopicField& tf : TopicFields()) {
    if (!tf.present(t)) continue;
    if (Status s = CheckValue(TopicFieldAt(tf, topic, path), tf.get(t)); !s.ok()) return s;
  }
  const bool ephemeral = t.persistence == Persistence::kEphemeral;
  const std::string_view suffix = config.subscriber.dead_letter_suffix;
  if (ephemeral && !suffix.empty() && topic.ends_with(suffix)) {
    return Fail(topic, "persistence",
                "ephemeral, but the name ends with subscriber.dead_letter_suffix " +
                    QuoteString(suffix) + ": a dead-letter topic must keep what it is given");
  }
  switch (config.transport) {
    case TransportKind::kNats:
      if (ephemeral && (t.partitions != 0 || t.retention.count() != 0 || t.replication != 0)) {
        const char* key = t.partitions != 0    ? "partitions"
                          : t.replication != 0 ? "replication"
                                               : "retention";
        return Fail(topic, key,
                    "an ephemeral topic on NATS is Core NATS publish/subscribe: nothing stores "
                    "it, so it has no partitions, retention or replication; remove the key");
      }
      if (t.replication > 5) {
        return Fail(topic, "replication",
                    fmt::format("{} is out of range [0, 5] on NATS (JetStream keeps at most 5 "
                                "replicas)",
                                t.replication));
      }
      if (t.partitions != 0 && config.nats.layout == NatsLayout::kJxt && t.partitions != 1) {
        return Fail(topic, "partitions",
                    fmt::format("{}: nats.layout jxt has one partition per topic (subject = "
                                "topic); use layout partitioned for more",
                                t.partitions));
      }
      if (t.partitions != 0 && config.nats.layout == NatsLayout::kPartitioned &&
          t.partitions != config.nats.partitions) {
        return Fail(topic, "partitions",
                    fmt::format("{}: on NATS every topic has nats.partitions ({}) partitions, "
                                "which all members must agree on; set that instead",
                                t.partitions, config.nats.partitions));
      }
      if ((t.retention.count() != 0 || t.replication != 0) &&
          (config.nats.layout == NatsLayout::kJxt || !config.nats.stream.empty())) {
        return Fail(topic, t.retention.count() != 0 ? "retention" : "replication",
                    "every topic is kept in the one stream nats.stream, whose retention and "
                    "replicas are nats.max_age and nats.replicas; a topic cannot have its own");
      }
      break;
    case TransportKind::kKafka:
      if (t.replication != 0 && config.kafka.min_insync_replicas > t.replication) {
        return Fail(topic, "replication",
                    fmt::format("{} is below kafka.min_insync_replicas {}: no write could be "
                                "acknowledged",
                                t.replication, config.kafka.min_insync_replicas));
      }
      break;
    case TransportKind::kMemory:
      if (t.replication > 1) {
        return Fail(topic, "replication",
                    fmt::format("{}: the memory broker keeps one copy; use 0 or 1", t.replication));
      }
      if (t.retention.count() != 0) {
        return Fail(topic, "retention",
                    "the memory broker retains by count and size (memory.retention_records, "
                    "memory.retention_bytes), not by time; remove the key");
      }
      break;
  }
  return Status();
}

}  // namespace evbus::config_internal
