#include "codec/json_writer.h"

#include <simdjson.h>

#include <array>
#include <charconv>

namespace evbus::codec {

namespace {

// The bytes AppendJsonString must look at: those it escapes, and 0xE2, which
// may start U+2028 or U+2029. Every other byte is copied as it is.
constexpr std::array<bool, 256> kMayEscape = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 0x20; ++c) t[c] = true;
  for (unsigned char c : {'"', '\\', '<', '>', '&'}) t[c] = true;
  t[0xE2] = true;
  return t;
}();

}  // namespace

void AppendJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  size_t run_start = 0;
  auto flush = [&](size_t end) { out.append(s.data() + run_start, end - run_start); };
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (!kMayEscape[c]) continue;  // the common case: copied with its run
    const char* esc = nullptr;
    switch (c) {
      case '"':
        esc = "\\\"";
        break;
      case '\\':
        esc = "\\\\";
        break;
      case '\b':
        esc = "\\b";
        break;
      case '\f':
        esc = "\\f";
        break;
      case '\n':
        esc = "\\n";
        break;
      case '\r':
        esc = "\\r";
        break;
      case '\t':
        esc = "\\t";
        break;
      case '<':
        esc = "\\u003c";
        break;
      case '>':
        esc = "\\u003e";
        break;
      case '&':
        esc = "\\u0026";
        break;
      default:
        break;
    }
    if (esc != nullptr) {
      flush(i);
      out += esc;
      run_start = i + 1;
    } else if (c < 0x20) {
      flush(i);
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
      run_start = i + 1;
    } else if (c == 0xE2 && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
               (static_cast<unsigned char>(s[i + 2]) == 0xA8 ||
                static_cast<unsigned char>(s[i + 2]) == 0xA9)) {
      flush(i);
      out += static_cast<unsigned char>(s[i + 2]) == 0xA8 ? "\\u2028" : "\\u2029";
      i += 2;
      run_start = i + 1;
    }
  }
  flush(s.size());
  out += '"';
}

void AppendInt(std::string& out, int64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  (void)ec;
  out.append(buf, end);
}

bool IsValidUtf8(std::string_view s) { return simdjson::validate_utf8(s.data(), s.size()); }

bool IsValidJsonValue(std::string_view json) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element element;
  return parser.parse(json.data(), json.size(), /*realloc_if_needed=*/true).get(element) ==
         simdjson::SUCCESS;
}

}  // namespace evbus::codec
