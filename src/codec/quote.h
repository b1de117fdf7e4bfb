// Quoting a value for an error message, shared by the envelope and the
// CloudEvents validators and decoders.

#ifndef EVBUS_CODEC_QUOTE_H_
#define EVBUS_CODEC_QUOTE_H_

#include <string>
#include <string_view>

namespace evbus::codec {

// A short, printable, double-quoted form of a possibly huge or binary value:
// at most its first 40 bytes, then "..."; control characters, '"', '\\' and
// every byte outside ASCII written as \xNN, so the message stays ASCII even
// when the value is not valid UTF-8.
std::string QuoteValue(std::string_view s);

}  // namespace evbus::codec

#endif  // EVBUS_CODEC_QUOTE_H_
