#include "codec/base64.h"
#include "codec/envelope_internal.h"
#include "codec/json_writer.h"
#include "evbus/envelope.h"

namespace evbus {

Envelope NewEnvelope(std::string aggregate_id, std::string event_type, int64_t event_version,
                     std::string payload) {
  Envelope e;
  e.event_id = NewEventId();
  e.aggregate_id = std::move(aggregate_id);
  e.event_type = std::move(event_type);
  e.event_version = event_version;
  e.timestamp = Timestamp::Now();
  e.payload = std::move(payload);
  return e;
}

Status EncodeEnvelope(const Envelope& e, std::string& out, PayloadFormat format,
                      WireGeneration generation) {
  if (Status s = Validate(e, format, generation); !s.ok()) return s;
  using codec::AppendJsonString;
  const bool base64 = codec::WrittenPayloadFormat(format, generation) == PayloadFormat::kBase64;
  out.reserve(out.size() + 160 + e.aggregate_id.size() + e.event_type.size() + e.trace_id.size() +
              e.correlation_id.size() + e.payload.size() * (base64 ? 2 : 1));
  if (generation == WireGeneration::kSeed) {
    out += "{\"aggregate_id\":";
  } else {
    out += "{\"event_id\":";
    AppendJsonString(out, e.event_id);
    out += ",\"aggregate_id\":";
  }
  AppendJsonString(out, e.aggregate_id);
  out += ",\"event_type\":";
  AppendJsonString(out, e.event_type);
  out += ",\"event_version\":";
  codec::AppendInt(out, e.event_version);
  out += ",\"timestamp\":\"";
  codec::AppendRfc3339(out, e.timestamp);  // only digits and -:.TZ+, nothing to escape
  out += '"';
  if (!e.trace_id.empty()) {
    out += ",\"trace_id\":";
    AppendJsonString(out, e.trace_id);
  }
  if (!e.correlation_id.empty()) {
    out += ",\"correlation_id\":";
    AppendJsonString(out, e.correlation_id);
  }
  if (e.tenant_id != 0 && generation == WireGeneration::kCurrent) {
    out += ",\"tenant_id\":";
    codec::AppendInt(out, e.tenant_id);
  }
  out += ",\"payload\":";
  if (base64) {
    out += '"';
    codec::AppendBase64(e.payload, out);
    out += '"';
  } else {
    out += e.payload;  // exact bytes, validated above as one JSON value
  }
  out += '}';
  return Status();
}

Result<std::string> EncodeEnvelope(const Envelope& e, PayloadFormat format,
                                   WireGeneration generation) {
  std::string out;
  if (Status s = EncodeEnvelope(e, out, format, generation); !s.ok()) return s;
  return out;
}

}  // namespace evbus
