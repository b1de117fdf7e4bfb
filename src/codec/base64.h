// Standard base64 (RFC 4648, with padding), as Go's encoding/json writes []byte.

#ifndef EVBUS_CODEC_BASE64_H_
#define EVBUS_CODEC_BASE64_H_

#include <string>
#include <string_view>

namespace evbus::codec {

void AppendBase64(std::string_view bytes, std::string& out);

// Decodes `text` into `out`. Returns false on any character outside the
// alphabet, bad padding or a length that is not a multiple of 4.
bool DecodeBase64(std::string_view text, std::string& out);

}  // namespace evbus::codec

#endif  // EVBUS_CODEC_BASE64_H_
