#include "codec/quote.h"

#include <algorithm>

namespace evbus::codec {

std::string QuoteValue(std::string_view s) {
  std::string out = "\"";
  const size_t shown = std::min<size_t>(s.size(), 40);
  for (char c : s.substr(0, shown)) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7F || c == '"' || c == '\\') {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 0xF];
    } else {
      out += c;
    }
  }
  if (shown < s.size()) out += "...";
  out += '"';
  return out;
}

}  // namespace evbus::codec
