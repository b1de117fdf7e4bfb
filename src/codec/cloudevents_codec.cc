// The entry points of the CloudEvents codec: encode in a mode, detect a
// record's mode from its headers, decode in the mode detected.

#include "codec/cloudevents_internal.h"
#include "codec/quote.h"

namespace evbus {

Status EncodeCloudEvent(const CloudEvent& event, CloudEventMode mode, CloudEventBinding binding,
                        Record& out) {
  if (Status s = ValidateCloudEvent(event); !s.ok()) return s;
  if (mode == CloudEventMode::kStructured) return codec::EncodeStructured(event, binding, out);
  codec::EncodeBinary(event, binding, out);
  return Status();
}

std::optional<CloudEventMode> DetectCloudEvent(const Headers& headers) {
  std::optional<CloudEventMode> mode;
  for (const Header& h : headers) {
    const std::string_view key = h.key;
    // Lengths first: most headers (X-Event-ID, ...) are ruled out by them.
    if (key.size() == 14 && (key[2] == '_' || key[2] == '-') &&
        codec::EqualsIgnoreCase(key.substr(0, 2), "ce") &&
        codec::EqualsIgnoreCase(key.substr(3), "specversion")) {
      mode = CloudEventMode::kBinary;
    } else if (key.size() == 12 && codec::EqualsIgnoreCase(key, "content-type")) {
      std::string_view value = h.value;
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      // The binding's rule: a content-type of the CloudEvents media type
      // means structured mode, whatever else the headers say.
      if (codec::StartsWithIgnoreCase(value, "application/cloudevents")) {
        return CloudEventMode::kStructured;
      }
    }
  }
  return mode;
}

Result<CloudEvent> DecodeCloudEvent(const Record& record) {
  CloudEvent event;
  if (DetectCloudEvent(record.headers) == CloudEventMode::kBinary) {
    if (Status s = codec::DecodeBinary(record, event); !s.ok()) return s;
    return event;
  }
  for (const Header& h : record.headers) {
    if (!codec::EqualsIgnoreCase(h.key, "content-type")) continue;
    const std::string_view media = codec::BareMediaType(h.value);
    if (codec::StartsWithIgnoreCase(media, "application/cloudevents") &&
        !codec::EqualsIgnoreCase(media, kCloudEventsJson)) {
      return Status(ErrorCode::kPoison, "content-type: " + codec::QuoteValue(h.value) +
                                            ": only the JSON event format (" +
                                            std::string(kCloudEventsJson) + ") is supported");
    }
    break;
  }
  if (Status s = codec::DecodeStructured(record.payload, event); !s.ok()) return s;
  return event;
}

}  // namespace evbus
