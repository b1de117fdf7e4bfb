// libFuzzer target: the envelope decoder must never crash, leak or read out
// of bounds, whatever the bytes; and what it accepts must re-encode and
// decode to the same envelope.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "evbus/envelope.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  for (evbus::PayloadFormat format :
       {evbus::PayloadFormat::kRawJson, evbus::PayloadFormat::kBase64}) {
    evbus::Result<evbus::Envelope> e = evbus::DecodeEnvelope(input, format);
    if (!e.ok()) continue;
    evbus::Result<std::string> again = evbus::EncodeEnvelope(*e, format);
    if (!again.ok()) std::abort();  // decoded envelopes are valid by construction
    evbus::Result<evbus::Envelope> back = evbus::DecodeEnvelope(*again, format);
    if (!back.ok() || !(*back == *e)) std::abort();
  }
  return 0;
}
