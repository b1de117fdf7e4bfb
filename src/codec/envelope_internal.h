// Shared between the envelope encoder, decoder and validator.

#ifndef EVBUS_CODEC_ENVELOPE_INTERNAL_H_
#define EVBUS_CODEC_ENVELOPE_INTERNAL_H_

#include "evbus/envelope.h"

namespace evbus::codec {

// Validate() without re-checking that a raw-JSON payload is well-formed
// (the decoder has just checked it while parsing). The decoder passes
// event_id_required = false: seed-era jxt-core envelopes carry no event id.
Status ValidateFields(const Envelope& e, bool event_id_required);

// The payload form an encoder writes for this generation and format.
PayloadFormat WrittenPayloadFormat(PayloadFormat format, WireGeneration generation);

// True when `json` (already known to be one JSON value) is a JSON string.
bool IsJsonString(std::string_view json);

}  // namespace evbus::codec

#endif  // EVBUS_CODEC_ENVELOPE_INTERNAL_H_
