// The per-topic settings (Config::topics, YAML `topics: {<name>: {...}}`):
// their table, and the checks shared by the loader, ValidateConfig and
// EventBus::ConfigureTopic.
//
// Each TopicField wraps a Field (kind, range, allowed values) so that topic
// values are parsed, range-checked and printed exactly like the rest of the
// configuration; its own accessors read and write a TopicConfig.
//
// Thread safety: immutable table, reentrant functions.

#ifndef EVBUS_CONFIG_TOPIC_FIELDS_H_
#define EVBUS_CONFIG_TOPIC_FIELDS_H_

#include <span>
#include <string>
#include <string_view>

#include "config/config_fields.h"
#include "evbus/config.h"
#include "evbus/status.h"

namespace evbus::config_internal {

struct TopicField {
  Field field;                          // path is the key alone ("partitions"); get/set are unused
  bool (*present)(const TopicConfig&);  // false: an unset optional (not printed)
  Value (*get)(const TopicConfig&);     // REQUIRES: present
  void (*set)(TopicConfig&, const Value&);
};

// Every key of a topic's section, in output order.
std::span<const TopicField> TopicFields();

// `field` with its path spelled out for `topic`: "topics.<topic>.<key>", kept
// in `path` (which must outlive the returned Field), for messages.
Field TopicFieldAt(const TopicField& field, std::string_view topic, std::string& path);

// A topic name usable on every transport: 1..249 characters of [A-Za-z0-9._-].
// Errors: InvalidArgument naming the topic and the offending character.
Status CheckTopicName(std::string_view topic);

// One topic's settings: each value's range, then the rules that depend on the
// rest of `config` (the transport: NATS keeps no ephemeral topic in a stream,
// jxt layout has one partition, replication limits, ...).
// Errors: InvalidArgument "topics.<topic>.<key>: <problem>".
Status CheckTopicConfig(const Config& config, std::string_view topic, const TopicConfig& settings);

}  // namespace evbus::config_internal

#endif  // EVBUS_CONFIG_TOPIC_FIELDS_H_
