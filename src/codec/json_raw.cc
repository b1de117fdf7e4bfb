#include "codec/json_raw.h"

#include <cstring>
#include <string>
#include <utility>

#include "codec/json_writer.h"

namespace evbus::codec {

namespace od = simdjson::ondemand;

void CopyPadded(std::string_view json, std::string& buffer) {
  if (buffer.size() < json.size() + simdjson::SIMDJSON_PADDING) {
    buffer.resize(json.size() + simdjson::SIMDJSON_PADDING);
  }
  std::memcpy(buffer.data(), json.data(), json.size());
  std::memset(buffer.data() + json.size(), 0, simdjson::SIMDJSON_PADDING);
}

std::string_view TrimTrailingSpace(std::string_view s) {
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

Status ReadRawJson(od::value& v, std::string_view document, std::string_view field,
                   std::string_view& raw) {
  od::json_type type;
  simdjson::error_code err = v.type().get(type);
  if (!err) {
    if (type == od::json_type::object) {
      od::object o;
      err = v.get_object().get(o);
      if (!err) err = o.raw_json().get(raw);
    } else if (type == od::json_type::array) {
      od::array a;
      err = v.get_array().get(a);
      if (!err) err = a.raw_json().get(raw);
    } else {
      raw = v.raw_json_token();
    }
  }
  if (err) {
    std::string m = "not a valid JSON ";
    m += document;
    m += " at \"";
    m += field;
    m += "\": ";
    m += simdjson::error_message(err);
    return Status(ErrorCode::kPoison, std::move(m));
  }
  raw = TrimTrailingSpace(raw);
  if (!IsValidJsonValue(raw)) {
    return Status(ErrorCode::kPoison, std::string(field) + ": not well-formed JSON");
  }
  return Status();
}

}  // namespace evbus::codec
