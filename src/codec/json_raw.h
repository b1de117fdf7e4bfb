// simdjson input and output shared by the envelope decoder and the
// CloudEvents JSON format: the padded copy a parse needs, and a value's JSON
// text read back from an on-demand parse (payload, data).

#ifndef EVBUS_CODEC_JSON_RAW_H_
#define EVBUS_CODEC_JSON_RAW_H_

#include <simdjson.h>

#include <string>
#include <string_view>

#include "evbus/status.h"

namespace evbus::codec {

// Copies `json` into `buffer`, followed by SIMDJSON_PADDING zero bytes:
// simdjson reads that far past the end, and records from a broker have no
// such slack. The buffer only grows. Parse buffer.data() with json.size().
void CopyPadded(std::string_view json, std::string& buffer);

// `s` without trailing JSON whitespace: a token's text runs up to the next token.
std::string_view TrimTrailingSpace(std::string_view s);

// Sets `raw` to the exact JSON text of the value `v` of field `field` (a span
// of the input, trailing whitespace trimmed), checked to be well-formed: the
// on-demand pass only checks a value's outline. Errors: kPoison, either
// "not a valid JSON <document> at \"<field>\": <simdjson's message>" or
// "<field>: not well-formed JSON".
Status ReadRawJson(simdjson::ondemand::value& v, std::string_view document, std::string_view field,
                   std::string_view& raw);

}  // namespace evbus::codec

#endif  // EVBUS_CODEC_JSON_RAW_H_
