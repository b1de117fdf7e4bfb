// Envelope decoding with simdjson's on-demand API: one pass over the input,
// strings unescaped straight into the Envelope, the payload taken as a span
// of the input (never re-serialised), then checked to be well-formed.

#include <simdjson.h>

#include <utility>

#include "codec/base64.h"
#include "codec/envelope_internal.h"
#include "codec/json_raw.h"
#include "evbus/envelope.h"

namespace evbus {
namespace {

namespace od = simdjson::ondemand;

enum Key : int {
  kEventId,
  kAggregateId,
  kEventType,
  kEventVersion,
  kTimestamp,
  kTraceId,
  kCorrelationId,
  kTenantId,
  kPayload,
  kUnknown,
};

Key KeyOf(std::string_view k) {
  switch (k.size()) {
    case 7:
      if (k == "payload") return kPayload;
      break;
    case 8:
      if (k == "event_id") return kEventId;
      if (k == "trace_id") return kTraceId;
      break;
    case 9:
      if (k == "timestamp") return kTimestamp;
      if (k == "tenant_id") return kTenantId;
      break;
    case 10:
      if (k == "event_type") return kEventType;
      break;
    case 12:
      if (k == "aggregate_id") return kAggregateId;
      break;
    case 13:
      if (k == "event_version") return kEventVersion;
      break;
    case 14:
      if (k == "correlation_id") return kCorrelationId;
      break;
    default:
      break;
  }
  return kUnknown;
}

constexpr const char* kKeyNames[] = {"event_id",       "aggregate_id", "event_type",
                                     "event_version",  "timestamp",    "trace_id",
                                     "correlation_id", "tenant_id",    "payload"};

Status Poison(std::string message) { return Status(ErrorCode::kPoison, std::move(message)); }

Status SyntaxError(simdjson::error_code err, std::string_view where) {
  std::string m = "not a valid JSON envelope";
  if (!where.empty()) {
    m += " at \"";
    m += where;
    m += "\"";
  }
  m += ": ";
  m += simdjson::error_message(err);
  return Poison(std::move(m));
}

Status TypeError(Key key, std::string_view expected, od::value& v) {
  std::string m = kKeyNames[key];
  m += ": expected ";
  m += expected;
  od::json_type type;
  if (v.type().get(type) == simdjson::SUCCESS) {
    switch (type) {
      case od::json_type::array:
        m += ", got an array";
        break;
      case od::json_type::object:
        m += ", got an object";
        break;
      case od::json_type::number:
        m += ", got a number";
        break;
      case od::json_type::string:
        m += ", got a string";
        break;
      case od::json_type::boolean:
        m += ", got a boolean";
        break;
      case od::json_type::null:
        m += ", got null";
        break;
    }
  }
  return Poison(std::move(m));
}

bool IsNull(od::value& v) {
  od::json_type type;
  return v.type().get(type) == simdjson::SUCCESS && type == od::json_type::null;
}

Status ReadString(Key key, od::value& v, std::string& out) {
  std::string_view s;
  if (v.get_string().get(s) != simdjson::SUCCESS) return TypeError(key, "a string", v);
  out.assign(s);
  return Status();
}

Status ReadInt(Key key, od::value& v, int64_t& out) {
  if (v.get_int64().get(out) != simdjson::SUCCESS) return TypeError(key, "an integer", v);
  return Status();
}

// The payload's form on the wire: a JSON string is base64 (jxt-core before
// cf575b6), any other value is raw JSON. A form the subscription did not ask
// for is poison, never handed over as something else.
Status ReadPayload(od::value& v, PayloadFormat format, std::string& out) {
  od::json_type type;
  if (auto err = v.type().get(type)) return SyntaxError(err, "payload");
  if (type == od::json_type::null) return Poison("payload: required, got null");
  if (type == od::json_type::string) {
    if (format == PayloadFormat::kRawJson) {
      return Poison(
          "payload: a base64 string (jxt-core before cf575b6), but payload_format is raw_json;"
          " set payload_format to auto or base64 to read it");
    }
    std::string_view text;
    if (auto err = v.get_string().get(text)) return SyntaxError(err, "payload");
    out.clear();
    if (!codec::DecodeBase64(text, out)) return Poison("payload: not valid standard base64");
    if (out.empty()) return Poison("payload: required, got an empty base64 string");
    return Status();
  }
  if (format == PayloadFormat::kBase64) {
    return TypeError(kPayload, "a base64 string (payload_format base64)", v);
  }
  std::string_view raw;
  if (Status s = codec::ReadRawJson(v, "envelope", "payload", raw); !s.ok()) return s;
  out.assign(raw);
  return Status();
}

Status DecodeInto(od::object& obj, PayloadFormat format, Envelope& e) {
  uint32_t seen = 0;
  for (auto field_result : obj) {
    od::field field;
    if (auto err = std::move(field_result).get(field)) return SyntaxError(err, "");
    std::string_view key_text;
    if (auto err = field.unescaped_key().get(key_text)) return SyntaxError(err, "");
    const Key key = KeyOf(key_text);
    if (key == kUnknown) continue;  // ignored; the iterator skips its value
    if (seen & (1u << key)) {
      return Poison(std::string("duplicate key \"") + kKeyNames[key] + "\"");
    }
    seen |= 1u << key;
    od::value v = field.value();
    Status s;
    switch (key) {
      case kEventId:
        s = ReadString(key, v, e.event_id);
        break;
      case kAggregateId:
        s = ReadString(key, v, e.aggregate_id);
        break;
      case kEventType:
        s = ReadString(key, v, e.event_type);
        break;
      case kTraceId:
        if (!IsNull(v)) s = ReadString(key, v, e.trace_id);
        break;
      case kCorrelationId:
        if (!IsNull(v)) s = ReadString(key, v, e.correlation_id);
        break;
      case kEventVersion:
        s = ReadInt(key, v, e.event_version);
        break;
      case kTenantId:
        if (!IsNull(v)) s = ReadInt(key, v, e.tenant_id);
        break;
      case kTimestamp: {
        std::string_view text;
        if (v.get_string().get(text) != simdjson::SUCCESS) {
          s = TypeError(key, "an RFC 3339 string", v);
          break;
        }
        Result<Timestamp> ts = ParseRfc3339(text);
        if (!ts.ok()) return Poison(ts.status().message());
        e.timestamp = *ts;
        break;
      }
      case kPayload:
        s = ReadPayload(v, format, e.payload);
        break;
      case kUnknown:
        break;
    }
    if (!s.ok()) return s;
  }
  // event_id is optional: jxt-core's seed-era envelope has none.
  for (Key required : {kAggregateId, kEventType, kEventVersion, kPayload}) {
    if (!(seen & (1u << required))) return Poison(std::string(kKeyNames[required]) + ": missing");
  }
  return Status();
}

}  // namespace

Status DecodeEnvelopeInto(std::string_view json, Envelope& e, PayloadFormat format) {
  thread_local od::parser parser;
  thread_local std::string buffer;
  codec::CopyPadded(json, buffer);

  od::document doc;
  if (auto err = parser.iterate(buffer.data(), json.size(), buffer.size()).get(doc)) {
    return SyntaxError(err, "");
  }
  od::object obj;
  if (auto err = doc.get_object().get(obj)) {
    return Poison(err == simdjson::INCORRECT_TYPE
                      ? std::string("not a JSON object")
                      : std::string("not a valid JSON envelope: ") + simdjson::error_message(err));
  }
  // Reset every field, keeping string capacity.
  e.event_id.clear();
  e.aggregate_id.clear();
  e.event_type.clear();
  e.event_version = 0;  // "missing" must not look valid
  e.timestamp = Timestamp{};
  e.trace_id.clear();
  e.correlation_id.clear();
  e.tenant_id = 0;
  e.payload.clear();
  if (Status s = DecodeInto(obj, format, e); !s.ok()) return s;
  const char* rest = nullptr;
  if (doc.current_location().get(rest) == simdjson::SUCCESS) {
    return Poison("trailing content after the envelope object");
  }
  if (Status s = codec::ValidateFields(e, /*event_id_required=*/false); !s.ok())
    return Poison(s.message());
  return Status();
}

Result<Envelope> DecodeEnvelope(std::string_view json, PayloadFormat format) {
  Envelope e;
  if (Status s = DecodeEnvelopeInto(json, e, format); !s.ok()) return s;
  return e;
}

}  // namespace evbus
