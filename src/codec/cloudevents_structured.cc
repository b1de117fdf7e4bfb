// Structured content mode: the JSON event format. JSON data is embedded and
// read back as the exact bytes received (a span of the input, as the envelope
// decoder keeps its payload); other data travels as data_base64, or, from
// other producers, as a JSON string.

#include <simdjson.h>

#include <set>

#include "codec/base64.h"
#include "codec/cloudevents_internal.h"
#include "codec/json_raw.h"
#include "codec/json_writer.h"
#include "codec/quote.h"

namespace evbus::codec {
namespace {

namespace od = simdjson::ondemand;

Status Poison(std::string message) { return Status(ErrorCode::kPoison, std::move(message)); }

Status SyntaxError(simdjson::error_code err, std::string_view where) {
  std::string m = "not a valid JSON CloudEvent";
  if (!where.empty()) m += " at \"" + std::string(where) + "\"";
  return Poison(m + ": " + simdjson::error_message(err));
}

std::string_view TypeName(od::value& v) {
  od::json_type type;
  if (v.type().get(type) != simdjson::SUCCESS) return "something malformed";
  switch (type) {
    case od::json_type::array:
      return "an array";
    case od::json_type::object:
      return "an object";
    case od::json_type::number:
      return "a number";
    case od::json_type::string:
      return "a string";
    case od::json_type::boolean:
      return "a boolean";
    case od::json_type::null:
      return "null";
  }
  return "something else";
}

bool IsNull(od::value& v) {
  od::json_type type;
  return v.type().get(type) == simdjson::SUCCESS && type == od::json_type::null;
}

// An extension attribute's value in its canonical string form.
Status ExtensionValue(std::string_view name, od::value& v, std::string& out) {
  od::json_type type;
  if (auto err = v.type().get(type)) return SyntaxError(err, name);
  switch (type) {
    case od::json_type::string: {
      std::string_view s;
      if (auto err = v.get_string().get(s)) return SyntaxError(err, name);
      out.assign(s);
      return Status();
    }
    case od::json_type::number: {
      int64_t n = 0;
      if (v.get_int64().get(n) != simdjson::SUCCESS || n < INT32_MIN || n > INT32_MAX) {
        return Poison(std::string(name) + ": a number that is not a 32-bit Integer: " +
                      std::string(TrimTrailingSpace(v.raw_json_token())));
      }
      out = std::to_string(n);
      return Status();
    }
    case od::json_type::boolean: {
      bool b = false;
      if (auto err = v.get_bool().get(b)) return SyntaxError(err, name);
      out = b ? "true" : "false";
      return Status();
    }
    default:
      return Poison(std::string(name) + ": expected a string, integer or boolean, got " +
                    std::string(TypeName(v)));
  }
}

// What the object's loop collects about data before datacontenttype is known.
struct DataField {
  bool present = false;  // "data" (not null, or null with JSON data)
  bool is_string = false;
  bool is_null = false;
  std::string raw;   // its JSON text
  std::string text;  // its unescaped value when a string
};

Status ReadData(od::value& v, DataField& d) {
  od::json_type type;
  if (auto err = v.type().get(type)) return SyntaxError(err, "data");
  d.present = true;
  d.is_null = type == od::json_type::null;
  std::string_view raw;
  // A string is peeked at here, not consumed.
  if (Status s = ReadRawJson(v, "CloudEvent", "data", raw); !s.ok()) return s;
  d.raw.assign(raw);
  if (type == od::json_type::string) {
    std::string_view text;
    if (auto err = v.get_string().get(text)) return SyntaxError(err, "data");
    d.is_string = true;
    d.text.assign(text);
  }
  return Status();
}

Status ReadFields(od::object& obj, CloudEvent& e, DataField& data, bool& have_base64) {
  std::set<std::string, std::less<>> seen;
  std::string value;
  for (auto field_result : obj) {
    od::field field;
    if (auto err = std::move(field_result).get(field)) return SyntaxError(err, "");
    std::string_view key;
    if (auto err = field.unescaped_key().get(key)) return SyntaxError(err, "");
    if (!seen.emplace(key).second) return Poison(std::string(key) + ": duplicate key");
    od::value v = field.value();
    if (key == "data") {
      if (Status s = ReadData(v, data); !s.ok()) return s;
      continue;
    }
    if (IsNull(v)) continue;  // null is unset (required ones are then missing)
    if (key == "data_base64") {
      std::string_view text;
      if (v.get_string().get(text) != simdjson::SUCCESS) {
        return Poison("data_base64: expected a base64 string, got " + std::string(TypeName(v)));
      }
      std::string bytes;
      if (!DecodeBase64(text, bytes)) return Poison("data_base64: not valid standard base64");
      e.data = std::move(bytes);
      have_base64 = true;
      continue;
    }
    const bool core = IsCoreAttribute(key);
    if (!core) {
      if (Status s = CheckExtensionName(key); !s.ok()) return AsPoison(s);
    }
    if (core) {
      std::string_view text;
      if (v.get_string().get(text) != simdjson::SUCCESS) {
        return Poison(std::string(key) + ": expected a string, got " + std::string(TypeName(v)));
      }
      value.assign(text);
    } else if (Status s = ExtensionValue(key, v, value); !s.ok()) {
      return s;
    }
    if (key == "time") {
      Result<Timestamp> t = ParseRfc3339(value);
      if (!t.ok()) {
        std::string m = t.status().message();
        if (m.starts_with("timestamp: ")) m.replace(0, 9, "time");
        return Poison(std::move(m));
      }
      e.time = *t;
      continue;
    }
    if (!core) {
      e.extensions.emplace(std::string(key), value);
      continue;
    }
    if (value.empty() && key != "specversion") {
      return Poison(std::string(key) + ": present but empty");
    }
    std::string& slot = key == "id"                ? e.id
                        : key == "source"          ? e.source
                        : key == "specversion"     ? e.specversion
                        : key == "type"            ? e.type
                        : key == "subject"         ? e.subject
                        : key == "datacontenttype" ? e.datacontenttype
                                                   : e.dataschema;
    slot = value;
  }
  return Status();
}

void AppendMember(std::string& out, std::string_view name, std::string_view value) {
  out += ',';
  AppendJsonString(out, name);
  out += ':';
  AppendJsonString(out, value);
}

}  // namespace

Status EncodeStructured(const CloudEvent& e, CloudEventBinding binding, Record& out) {
  const bool json_data = e.data && IsJsonMediaType(e.datacontenttype);
  if (json_data && !IsValidJsonValue(*e.data)) {
    return InvalidArgument(
        "data: datacontenttype " + QuoteValue(e.datacontenttype) +
        " declares JSON, but data is not one JSON value: " + QuoteValue(*e.data));
  }
  std::string& json = out.payload;
  json.clear();
  json.reserve(160 + e.id.size() + e.source.size() + e.type.size() + e.subject.size() +
               (e.data ? e.data->size() * (json_data ? 1 : 2) : 0));
  json += "{\"specversion\":";
  AppendJsonString(json, e.specversion);
  AppendMember(json, "id", e.id);
  AppendMember(json, "source", e.source);
  AppendMember(json, "type", e.type);
  if (!e.subject.empty()) AppendMember(json, "subject", e.subject);
  if (e.time) {
    json += ",\"time\":\"";
    AppendRfc3339(json, *e.time);
    json += '"';
  }
  if (!e.datacontenttype.empty()) AppendMember(json, "datacontenttype", e.datacontenttype);
  if (!e.dataschema.empty()) AppendMember(json, "dataschema", e.dataschema);
  for (const auto& [name, value] : e.extensions) AppendMember(json, name, value);
  if (e.data) {
    if (json_data) {
      json += ",\"data\":";
      json += *e.data;  // exact bytes, checked above to be one JSON value
    } else {
      json += ",\"data_base64\":\"";
      AppendBase64(*e.data, json);
      json += '"';
    }
  }
  json += '}';
  out.headers.push_back({binding == CloudEventBinding::kNats ? "Content-Type" : "content-type",
                         std::string(kCloudEventsJson)});
  return Status();
}

Status DecodeStructured(std::string_view json, CloudEvent& e) {
  // Its own per-thread buffer and parser: the envelope decoder's may be in use.
  thread_local od::parser parser;
  thread_local std::string buffer;
  CopyPadded(json, buffer);
  od::document doc;
  if (auto err = parser.iterate(buffer.data(), json.size(), buffer.size()).get(doc)) {
    return SyntaxError(err, "");
  }
  od::object obj;
  if (auto err = doc.get_object().get(obj)) {
    return err == simdjson::INCORRECT_TYPE ? Poison("structured CloudEvent: not a JSON object")
                                           : SyntaxError(err, "");
  }
  e.specversion.clear();
  DataField data;
  bool have_base64 = false;
  if (Status s = ReadFields(obj, e, data, have_base64); !s.ok()) return s;
  const char* rest = nullptr;
  if (doc.current_location().get(rest) == simdjson::SUCCESS) {
    return Poison("trailing content after the CloudEvent object");
  }
  if (data.present && have_base64) {
    return Poison("data_base64: present together with data (they are mutually exclusive)");
  }
  if (data.present) {
    // No datacontenttype with "data" means application/json; kept explicit,
    // so that the event says the same in any other mode or binding.
    if (e.datacontenttype.empty()) e.datacontenttype = "application/json";
    if (IsJsonMediaType(e.datacontenttype)) {
      e.data = std::move(data.raw);  // "null" included: an explicit null payload
    } else if (data.is_string) {
      e.data = std::move(data.text);
    } else if (!data.is_null) {
      return Poison("data: datacontenttype " + QuoteValue(e.datacontenttype) +
                    " is not JSON, so data must be a string (or data_base64)");
    }
  }
  return AsPoison(ValidateCloudEvent(e));
}

}  // namespace evbus::codec
