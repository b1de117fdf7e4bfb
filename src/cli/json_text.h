// JSON text for the CLI's outputs (sub --format json, bench --json): a
// writer of objects that keeps the key order, on the codec's string quoting.

#ifndef EVBUS_CLI_JSON_TEXT_H_
#define EVBUS_CLI_JSON_TEXT_H_

#include <concepts>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "codec/json_writer.h"

namespace evbus::cli {

// `s` quoted as a JSON string. REQUIRES: `s` is valid UTF-8.
inline std::string JsonString(std::string_view s) {
  std::string out;
  codec::AppendJsonString(out, s);
  return out;
}

// Builds one JSON object: Add(...) members in order, then str().
class JsonObject {
 public:
  // `json` must be one JSON value (an object or array built elsewhere).
  JsonObject& Raw(std::string_view key, std::string_view json) {
    if (text_.size() > 1) text_ += ',';
    codec::AppendJsonString(text_, key);
    text_ += ':';
    text_ += json;
    return *this;
  }
  JsonObject& Add(std::string_view key, std::string_view value) {
    return Raw(key, JsonString(value));
  }
  JsonObject& Add(std::string_view key, const char* value) {
    return Add(key, std::string_view(value));
  }
  JsonObject& Add(std::string_view key, const std::string& value) {
    return Add(key, std::string_view(value));
  }
  JsonObject& Add(std::string_view key, bool value) { return Raw(key, value ? "true" : "false"); }
  template <std::integral T>
  JsonObject& Add(std::string_view key, T value) {
    return Raw(key, std::to_string(value));
  }
  JsonObject& Add(std::string_view key, double value) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.6g", value);
    return Raw(key, buf);
  }
  std::string str() const { return text_ + "}"; }

 private:
  std::string text_ = "{";
};

// "[a,b,c]" from JSON values.
template <typename Range>
std::string JsonArray(const Range& values) {
  std::string out = "[";
  for (const auto& v : values) {
    if (out.size() > 1) out += ',';
    out += v;
  }
  return out + "]";
}

}  // namespace evbus::cli

#endif  // EVBUS_CLI_JSON_TEXT_H_
