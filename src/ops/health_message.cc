#include "ops/health_message.h"

#include <simdjson.h>

#include <cstdio>
#include <random>

#include "codec/json_writer.h"
#include "evbus/envelope.h"

namespace evbus::ops {

HealthMessage NewHealthMessage(std::string source, std::string event_bus_type,
                               std::string instance_id) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  HealthMessage m;
  m.timestamp = std::chrono::system_clock::now();
  const auto nanos =
      std::chrono::duration_cast<std::chrono::nanoseconds>(m.timestamp.time_since_epoch()).count();
  char id[64];
  std::snprintf(id, sizeof(id), "hc-%lld-%016llx", static_cast<long long>(nanos),
                static_cast<unsigned long long>(rng()));
  m.message_id = id;
  m.source = std::move(source);
  m.event_bus_type = std::move(event_bus_type);
  m.version = std::string(kHealthMessageVersion);
  m.metadata["checkType"] = "periodic";
  m.metadata["instanceId"] = std::move(instance_id);
  return m;
}

std::string EncodeHealthMessage(const HealthMessage& m) {
  Timestamp ts;
  ts.time = std::chrono::time_point_cast<std::chrono::nanoseconds>(m.timestamp);
  std::string out = "{\"messageId\":";
  codec::AppendJsonString(out, m.message_id);
  out += ",\"timestamp\":";
  codec::AppendJsonString(out, FormatRfc3339(ts));
  out += ",\"source\":";
  codec::AppendJsonString(out, m.source);
  out += ",\"eventBusType\":";
  codec::AppendJsonString(out, m.event_bus_type);
  out += ",\"version\":";
  codec::AppendJsonString(out, m.version);
  out += ",\"metadata\":{";
  bool first = true;
  for (const auto& [k, v] : m.metadata) {  // Go sorts map keys too
    if (!first) out += ',';
    first = false;
    codec::AppendJsonString(out, k);
    out += ':';
    codec::AppendJsonString(out, v);
  }
  out += "}}";
  return out;
}

Result<HealthMessage> ParseHealthMessage(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(json.data(), json.size()).get(doc) != simdjson::SUCCESS) {
    return InvalidArgument("health message: not JSON");
  }
  simdjson::dom::object obj;
  if (doc.get_object().get(obj) != simdjson::SUCCESS) {
    return InvalidArgument("health message: not a JSON object");
  }
  HealthMessage m;
  auto str = [&](const char* key, std::string& out) {
    std::string_view v;
    if (obj[key].get_string().get(v) == simdjson::SUCCESS) out = v;
  };
  std::string timestamp;
  str("messageId", m.message_id);
  str("timestamp", timestamp);
  str("source", m.source);
  str("eventBusType", m.event_bus_type);
  str("version", m.version);
  simdjson::dom::object meta;
  if (obj["metadata"].get_object().get(meta) == simdjson::SUCCESS) {
    for (auto [k, v] : meta) {
      std::string_view sv;
      if (v.get_string().get(sv) == simdjson::SUCCESS) m.metadata[std::string(k)] = sv;
    }
  }
  for (const auto& [name, value] :
       {std::pair<const char*, const std::string*>{"messageId", &m.message_id},
        {"source", &m.source},
        {"eventBusType", &m.event_bus_type},
        {"version", &m.version}}) {
    if (value->empty())
      return InvalidArgument(std::string("health message: ") + name + " is empty");
  }
  if (m.event_bus_type != "kafka" && m.event_bus_type != "nats" && m.event_bus_type != "memory") {
    return InvalidArgument("health message: eventBusType \"" + m.event_bus_type +
                           "\" is not kafka, nats or memory");
  }
  Result<Timestamp> ts = ParseRfc3339(timestamp);
  if (!ts.ok()) return InvalidArgument("health message: timestamp: " + ts.status().message());
  m.timestamp = std::chrono::time_point_cast<std::chrono::system_clock::duration>(ts->time);
  if (std::chrono::system_clock::now() - m.timestamp > kHealthMessageMaxAge) {
    return InvalidArgument("health message: older than 5 minutes");
  }
  return m;
}

}  // namespace evbus::ops
