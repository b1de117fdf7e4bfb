// Minimal JSON output helpers with Go's encoding/json escaping rules, so an
// envelope written here is byte-identical to one written by jxt-core.

#ifndef EVBUS_CODEC_JSON_WRITER_H_
#define EVBUS_CODEC_JSON_WRITER_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "evbus/envelope.h"

namespace evbus::codec {

// Appends `s` as a quoted JSON string. Like Go: '<', '>', '&', U+2028 and
// U+2029 become \u escapes; \b \f \n \r \t use short escapes; other control
// characters become \u00XX. REQUIRES: `s` is valid UTF-8.
void AppendJsonString(std::string& out, std::string_view s);

void AppendInt(std::string& out, int64_t v);

// Appends `ts` as FormatRfc3339 writes it (Go's time.RFC3339Nano), without a
// temporary string: the encoder's per-envelope allocation was this.
void AppendRfc3339(std::string& out, const Timestamp& ts);

// True when `s` is well-formed UTF-8 (no overlongs, surrogates or > U+10FFFF).
bool IsValidUtf8(std::string_view s);

// True when `json` is exactly one well-formed JSON value (whitespace around it
// allowed), nested at most 1024 deep.
bool IsValidJsonValue(std::string_view json);

}  // namespace evbus::codec

#endif  // EVBUS_CODEC_JSON_WRITER_H_
