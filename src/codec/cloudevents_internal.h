// Shared between the CloudEvents validator, the two content modes and the
// Envelope mapping.

#ifndef EVBUS_CODEC_CLOUDEVENTS_INTERNAL_H_
#define EVBUS_CODEC_CLOUDEVENTS_INTERNAL_H_

#include <string>
#include <string_view>

#include "evbus/cloudevents.h"

namespace evbus::codec {

// The CloudEvents core attributes other than data ("id", "source", ...).
bool IsCoreAttribute(std::string_view name);

// OK when `name` may name an extension attribute: non-empty lowercase a-z and
// 0-9, not "data", not a core attribute. Errors: InvalidArgument naming it.
Status CheckExtensionName(std::string_view name);

// OK when `value` is a CloudEvents String: valid UTF-8 with no control
// characters (U+0000-U+001F, U+007F-U+009F) and no noncharacters.
// Errors: InvalidArgument starting with "<attribute>: ".
Status CheckAttributeText(std::string_view attribute, std::string_view value);

// True when a media type (parameters ignored, any case) declares JSON:
// "*/json" or "*/*+json".
bool IsJsonMediaType(std::string_view media_type);

// The media type without parameters and surrounding spaces.
std::string_view BareMediaType(std::string_view media_type);

bool EqualsIgnoreCase(std::string_view a, std::string_view b);
bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix);

// The same status with code kPoison (decoding errors are poison to a subscriber).
Status AsPoison(const Status& s);

// The content modes (cloudevents_binary.cc, cloudevents_structured.cc).
// Encoders append to out.headers and set out.payload; REQUIRES: `event` is valid.
void EncodeBinary(const CloudEvent& event, CloudEventBinding binding, Record& out);
Status EncodeStructured(const CloudEvent& event, CloudEventBinding binding, Record& out);
// Decoders fill `event` (from a default-constructed one) and validate it.
// Errors: kPoison naming the attribute.
Status DecodeBinary(const Record& record, CloudEvent& event);
Status DecodeStructured(std::string_view json, CloudEvent& event);

// NATS header values (the NATS binding's percent-encoding of space, '"', '%'
// and every byte outside 0x21-0x7E; decoding also accepts a double-quoted
// value). Errors of the decoder: InvalidArgument starting with "<attribute>: ".
std::string PercentEncode(std::string_view value);
Status PercentDecode(std::string_view attribute, std::string_view value, std::string& out);

}  // namespace evbus::codec

#endif  // EVBUS_CODEC_CLOUDEVENTS_INTERNAL_H_
