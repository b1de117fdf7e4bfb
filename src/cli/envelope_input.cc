#include "cli/envelope_input.h"

#include <simdjson.h>

namespace evbus::cli {
namespace {

namespace od = simdjson::ondemand;

std::string_view TrimSpace(std::string_view s) {
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  return s;
}

Status Bad(std::string_view field, std::string_view why) {
  return InvalidArgument("message field " + std::string(field) + ": " + std::string(why));
}

// Copies field `key` of the message into `e`. Unknown keys are errors: a
// typo must not publish an envelope without the field meant.
Status ReadField(std::string_view key, od::value value, Envelope& e, bool& has_payload) {
  auto text = [&](std::string& out) -> Status {
    std::string_view v;
    if (value.get_string().get(v)) return Bad(key, "not a string");
    out.assign(v);
    return Status();
  };
  if (key == "event_id") return text(e.event_id);
  if (key == "aggregate_id") return text(e.aggregate_id);
  if (key == "event_type") return text(e.event_type);
  if (key == "trace_id") return text(e.trace_id);
  if (key == "correlation_id") return text(e.correlation_id);
  if (key == "event_version" || key == "tenant_id") {
    int64_t n = 0;
    if (value.get_int64().get(n)) return Bad(key, "not an integer");
    (key == "event_version" ? e.event_version : e.tenant_id) = n;
    return Status();
  }
  if (key == "timestamp") {
    std::string t;
    if (Status s = text(t); !s.ok()) return s;
    Result<Timestamp> ts = ParseRfc3339(t);
    if (!ts.ok()) return Bad(key, ts.status().message());
    e.timestamp = *ts;
    return Status();
  }
  if (key == "payload") {
    // As the codec's decoder does; not shared with it because simdjson's
    // on-demand types belong to the kernel a file is compiled for, and the
    // decoder is compiled for a SIMD target while this file is not.
    std::string_view raw;
    od::json_type type;
    if (value.type().get(type)) return Bad(key, "not JSON");
    simdjson::error_code err = simdjson::SUCCESS;
    if (type == od::json_type::object) {
      od::object o;
      err = value.get_object().get(o);
      if (!err) err = o.raw_json().get(raw);
    } else if (type == od::json_type::array) {
      od::array a;
      err = value.get_array().get(a);
      if (!err) err = a.raw_json().get(raw);
    } else {
      raw = value.raw_json_token();
    }
    if (err) return Bad(key, "not JSON");
    e.payload.assign(TrimSpace(raw));
    has_payload = true;
    return Status();
  }
  return Bad(key,
             "unknown (known: event_id, aggregate_id, event_type, event_version, "
             "timestamp, trace_id, correlation_id, tenant_id, payload)");
}

}  // namespace

Result<Envelope> ParseEnvelopeInput(std::string_view json, const EnvelopeDefaults& defaults) {
  json = TrimSpace(json);
  Envelope e = NewEnvelope(defaults.aggregate_id, defaults.event_type, 1, std::string());
  bool has_payload = false;
  od::parser parser;
  simdjson::padded_string padded(json);
  od::document doc;
  od::object object;
  if (parser.iterate(padded).get(doc) || doc.get_object().get(object)) {
    return InvalidArgument("message is not a JSON object: " + std::string(json.substr(0, 80)));
  }
  for (auto field : object) {
    std::string_view key;
    od::value value;
    if (field.unescaped_key().get(key) || field.value().get(value)) {
      return InvalidArgument("message is not well-formed JSON: " + std::string(json.substr(0, 80)));
    }
    if (Status s = ReadField(key, value, e, has_payload); !s.ok()) return s;
  }
  if (!has_payload) {
    return Bad("payload", "missing (give the event as {\"payload\": {...}, ...})");
  }
  if (Status s = Validate(e); !s.ok()) return s;
  return e;
}

}  // namespace evbus::cli
