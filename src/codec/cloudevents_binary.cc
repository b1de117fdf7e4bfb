// Binary content mode: attributes in prefixed record headers, data as the
// payload. Kafka (and the memory broker) use "ce_" and a "content-type"
// header; NATS uses "ce-" for every attribute, datacontenttype included, and
// percent-encodes header values.

#include <algorithm>
#include <vector>

#include "codec/cloudevents_internal.h"
#include "codec/json_writer.h"
#include "codec/quote.h"

namespace evbus::codec {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Undoes RFC 7230 quoting: "a \"b\"" -> a "b". Unquoted values are kept.
std::string_view Unquote(std::string_view value, std::string& scratch) {
  if (value.size() < 2 || value.front() != '"' || value.back() != '"') return value;
  scratch.clear();
  for (size_t i = 1; i + 1 < value.size(); ++i) {
    if (value[i] == '\\' && i + 2 < value.size()) ++i;
    scratch += value[i];
  }
  return scratch;
}

// Where one decoded attribute goes; the name is lowercase.
Status Assign(CloudEvent& e, std::string_view name, std::string value) {
  std::string* core = name == "id"                ? &e.id
                      : name == "source"          ? &e.source
                      : name == "specversion"     ? &e.specversion
                      : name == "type"            ? &e.type
                      : name == "subject"         ? &e.subject
                      : name == "datacontenttype" ? &e.datacontenttype
                      : name == "dataschema"      ? &e.dataschema
                                                  : nullptr;
  if (core != nullptr) {
    if (value.empty() && name != "specversion") {
      return InvalidArgument(std::string(name) + ": present but empty");
    }
    *core = std::move(value);
    return Status();
  }
  if (name == "time") {
    Result<Timestamp> t = ParseRfc3339(value);
    if (!t.ok()) {
      // ParseRfc3339 names the envelope's field; this is the attribute "time".
      std::string m = t.status().message();
      if (m.starts_with("timestamp: ")) m.replace(0, 9, "time");
      return InvalidArgument(std::move(m));
    }
    e.time = *t;
    return Status();
  }
  if (Status s = CheckExtensionName(name); !s.ok()) return s;
  e.extensions[std::string(name)] = std::move(value);
  return Status();
}

}  // namespace

std::string PercentEncode(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7F || c == '"' || c == '%') {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 0xF];
    } else {
      out += c;
    }
  }
  return out;
}

Status PercentDecode(std::string_view attribute, std::string_view value, std::string& out) {
  std::string scratch;
  value = Unquote(value, scratch);
  out.clear();
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] != '%') {
      out += value[i];
      continue;
    }
    const int hi = i + 2 < value.size() ? HexValue(value[i + 1]) : -1;
    const int lo = hi >= 0 ? HexValue(value[i + 2]) : -1;
    if (lo < 0) {
      return InvalidArgument(std::string(attribute) + ": bad percent-encoding at position " +
                             std::to_string(i) + " of " + QuoteValue(value));
    }
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  if (!IsValidUtf8(out)) {
    return InvalidArgument(std::string(attribute) +
                           ": percent-decodes to invalid UTF-8: " + QuoteValue(value));
  }
  return Status();
}

void EncodeBinary(const CloudEvent& e, CloudEventBinding binding, Record& out) {
  const bool nats = binding == CloudEventBinding::kNats;
  const std::string prefix = nats ? "ce-" : "ce_";
  auto add = [&](std::string_view name, std::string_view value) {
    out.headers.push_back(
        {prefix + std::string(name), nats ? PercentEncode(value) : std::string(value)});
  };
  out.headers.reserve(out.headers.size() + 8 + e.extensions.size());
  add("specversion", e.specversion);
  add("id", e.id);
  add("source", e.source);
  add("type", e.type);
  if (!e.subject.empty()) add("subject", e.subject);
  if (e.time) add("time", FormatRfc3339(*e.time));
  if (!e.dataschema.empty()) add("dataschema", e.dataschema);
  if (!e.datacontenttype.empty()) {
    if (nats) {
      add("datacontenttype", e.datacontenttype);
    } else {
      out.headers.push_back({"content-type", e.datacontenttype});
    }
  }
  for (const auto& [name, value] : e.extensions) add(name, value);
  out.payload = e.data.value_or(std::string());
}

Status DecodeBinary(const Record& record, CloudEvent& e) {
  e.specversion.clear();  // present in every binary-mode record
  std::string content_type;
  bool have_content_type = false;
  std::string name;
  std::string value;
  std::vector<std::string> seen;
  for (const Header& h : record.headers) {
    const std::string_view key = h.key;
    if (key.size() > 3 && StartsWithIgnoreCase(key, "ce") && (key[2] == '_' || key[2] == '-')) {
      const bool dash = key[2] == '-';
      name.assign(key.substr(3));
      if (dash) {  // the NATS (and HTTP) binding: names in any case, values percent-encoded
        for (char& c : name) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
        if (Status s = PercentDecode(name, h.value, value); !s.ok()) return AsPoison(s);
      } else {
        value = h.value;
      }
      if (std::find(seen.begin(), seen.end(), name) != seen.end()) {
        return Status(ErrorCode::kPoison, name + ": appears in more than one header");
      }
      seen.push_back(name);
      if (Status s = Assign(e, name, std::move(value)); !s.ok()) return AsPoison(s);
    } else if (!have_content_type && EqualsIgnoreCase(key, "content-type")) {
      content_type = h.value;
      have_content_type = true;
    }
  }
  // datacontenttype is ce-datacontenttype on NATS, the content-type header on Kafka.
  if (e.datacontenttype.empty() && have_content_type) e.datacontenttype = content_type;
  // An empty value is a record without data (a Kafka tombstone).
  if (!record.payload.empty()) e.data = record.payload;
  return AsPoison(ValidateCloudEvent(e));
}

}  // namespace evbus::codec
