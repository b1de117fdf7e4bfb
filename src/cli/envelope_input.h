// The envelopes `evbus pub` reads: one JSON object per message, in the wire
// format, where everything but the payload may be left out and is filled in.

#ifndef EVBUS_CLI_ENVELOPE_INPUT_H_
#define EVBUS_CLI_ENVELOPE_INPUT_H_

#include <string>
#include <string_view>

#include "evbus/envelope.h"

namespace evbus::cli {

// What a message that leaves a field out gets.
struct EnvelopeDefaults {
  std::string aggregate_id;             // required if the message has none
  std::string event_type = "CliEvent";  // event_type
  // event_id: a new one; event_version: 1; timestamp: now.
};

// Reads `json`, e.g. {"aggregate_id":"order-1","payload":{"total":3}}.
// "payload" is required; the result is validated.
// Errors: InvalidArgument naming the field (bad JSON, wrong type, invalid
// envelope).
Result<Envelope> ParseEnvelopeInput(std::string_view json, const EnvelopeDefaults& defaults);

}  // namespace evbus::cli

#endif  // EVBUS_CLI_ENVELOPE_INPUT_H_
