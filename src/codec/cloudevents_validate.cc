// The rules of CloudEvents 1.0 for one event, and the small text helpers the
// content modes share.

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>

#include "codec/cloudevents_internal.h"
#include "codec/json_writer.h"
#include "codec/quote.h"

namespace evbus {
namespace codec {
namespace {

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

// An RFC 2045 token character (what type and subtype consist of).
bool IsTokenChar(char c) {
  if (c <= 0x20 || c >= 0x7F) return false;
  return std::string_view("()<>@,;:\\\"/[]?=").find(c) == std::string_view::npos;
}

// Decodes the code point at s[i] (valid UTF-8 assumed) and advances i.
uint32_t NextCodePoint(std::string_view s, size_t& i) {
  const auto b = static_cast<unsigned char>(s[i]);
  const int len = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
  uint32_t cp = len == 1 ? b : len == 2 ? (b & 0x1F) : len == 3 ? (b & 0x0F) : (b & 0x07);
  for (int k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  i += static_cast<size_t>(len);
  return cp;
}

bool IsNoncharacter(uint32_t cp) {
  return (cp >= 0xFDD0 && cp <= 0xFDEF) || (cp & 0xFFFE) == 0xFFFE;
}

}  // namespace

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && EqualsIgnoreCase(s.substr(0, prefix.size()), prefix);
}

Status AsPoison(const Status& s) { return s.ok() ? s : Status(ErrorCode::kPoison, s.message()); }

bool IsCoreAttribute(std::string_view name) {
  static constexpr std::array<std::string_view, 8> kCore = {
      "id", "source", "specversion", "type", "subject", "time", "datacontenttype", "dataschema"};
  return std::find(kCore.begin(), kCore.end(), name) != kCore.end();
}

Status CheckExtensionName(std::string_view name) {
  if (name.empty()) return InvalidArgument("attribute name: empty");
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
      return InvalidArgument(QuoteValue(name) +
                             ": an attribute name must be lowercase letters a-z and digits 0-9");
    }
  }
  if (name == "data") return InvalidArgument("data: reserved, not an attribute name");
  if (IsCoreAttribute(name)) {
    return InvalidArgument(std::string(name) + ": a core attribute, not an extension");
  }
  return Status();
}

Status CheckAttributeText(std::string_view attribute, std::string_view value) {
  if (!IsValidUtf8(value)) {
    return InvalidArgument(std::string(attribute) + ": not valid UTF-8: " + QuoteValue(value));
  }
  for (size_t i = 0; i < value.size();) {
    const uint32_t cp = NextCodePoint(value, i);
    if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) {
      char code[16];
      std::snprintf(code, sizeof(code), "U+%04X", static_cast<unsigned>(cp));
      return InvalidArgument(std::string(attribute) + ": control character " + code + " in " +
                             QuoteValue(value));
    }
    if (IsNoncharacter(cp)) {
      return InvalidArgument(std::string(attribute) + ": a Unicode noncharacter in " +
                             QuoteValue(value));
    }
  }
  return Status();
}

std::string_view BareMediaType(std::string_view media_type) {
  media_type = media_type.substr(0, media_type.find(';'));
  while (!media_type.empty() && IsSpace(media_type.front())) media_type.remove_prefix(1);
  while (!media_type.empty() && IsSpace(media_type.back())) media_type.remove_suffix(1);
  return media_type;
}

bool IsJsonMediaType(std::string_view media_type) {
  const std::string_view bare = BareMediaType(media_type);
  const size_t slash = bare.find('/');
  if (slash == std::string_view::npos) return false;
  const std::string_view subtype = bare.substr(slash + 1);
  return EqualsIgnoreCase(subtype, "json") ||
         (subtype.size() > 5 && EqualsIgnoreCase(subtype.substr(subtype.size() - 5), "+json"));
}

}  // namespace codec

Status ValidateCloudEvent(const CloudEvent& e) {
  using codec::CheckAttributeText;
  if (e.specversion.empty()) return InvalidArgument("specversion: missing");
  if (e.specversion != "1.0") {
    return InvalidArgument("specversion: " + codec::QuoteValue(e.specversion) +
                           " is not supported (only 1.0)");
  }
  const std::pair<const char*, const std::string*> required[] = {
      {"id", &e.id}, {"source", &e.source}, {"type", &e.type}};
  for (const auto& [name, value] : required) {
    if (value->empty()) return InvalidArgument(std::string(name) + ": missing");
    if (Status s = CheckAttributeText(name, *value); !s.ok()) return s;
  }
  if (Status s = CheckAttributeText("subject", e.subject); !s.ok()) return s;
  if (Status s = CheckAttributeText("dataschema", e.dataschema); !s.ok()) return s;
  if (!e.datacontenttype.empty()) {
    if (Status s = CheckAttributeText("datacontenttype", e.datacontenttype); !s.ok()) return s;
    const std::string_view bare = codec::BareMediaType(e.datacontenttype);
    const size_t slash = bare.find('/');
    const bool tokens = slash != std::string_view::npos && slash > 0 && slash + 1 < bare.size() &&
                        std::all_of(bare.begin(), bare.begin() + static_cast<std::ptrdiff_t>(slash),
                                    codec::IsTokenChar) &&
                        std::all_of(bare.begin() + static_cast<std::ptrdiff_t>(slash) + 1,
                                    bare.end(), codec::IsTokenChar);
    if (!tokens) {
      return InvalidArgument("datacontenttype: " + codec::QuoteValue(e.datacontenttype) +
                             " is not a media type (type/subtype)");
    }
  }
  if (e.time) {
    const int offset = e.time->utc_offset_minutes;
    if (offset < -1439 || offset > 1439) {
      return InvalidArgument("time: UTC offset " + std::to_string(offset) +
                             " minutes is out of range [-1439, 1439]");
    }
    using namespace std::chrono;
    const int year =
        static_cast<int>(year_month_day{floor<days>(e.time->time + minutes(offset))}.year());
    if (year < 0 || year > 9999) {
      return InvalidArgument("time: year " + std::to_string(year) + " is out of range [0, 9999]");
    }
  }
  for (const auto& [name, value] : e.extensions) {
    if (Status s = codec::CheckExtensionName(name); !s.ok()) return s;
    if (Status s = CheckAttributeText(name, value); !s.ok()) return s;
  }
  return Status();
}

}  // namespace evbus
