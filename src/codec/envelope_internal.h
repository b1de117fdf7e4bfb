// Shared between the envelope encoder, decoder and validator.

#ifndef EVBUS_CODEC_ENVELOPE_INTERNAL_H_
#define EVBUS_CODEC_ENVELOPE_INTERNAL_H_

#include "evbus/envelope.h"

namespace evbus::codec {

// Validate() without re-checking that a raw-JSON payload is well-formed
// (the decoder has just checked it while parsing).
Status ValidateFields(const Envelope& e);

}  // namespace evbus::codec

#endif  // EVBUS_CODEC_ENVELOPE_INTERNAL_H_
