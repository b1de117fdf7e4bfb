// The mapping between an Envelope and a CloudEvent, and the subscriber's
// decoding of any record as an Envelope.

#include <charconv>

#include "codec/cloudevents_internal.h"
#include "codec/envelope_internal.h"
#include "codec/json_writer.h"
#include "codec/quote.h"

namespace evbus {
namespace {

Status Poison(std::string message) { return Status(ErrorCode::kPoison, std::move(message)); }

const std::string* FindExtension(const CloudEvent& e, std::string_view name) {
  auto it = e.extensions.find(std::string(name));
  return it == e.extensions.end() ? nullptr : &it->second;
}

bool ParseInt(std::string_view text, int64_t& out) {
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, out);
  return ec == std::errc() && p == end;
}

}  // namespace

CloudEvent CloudEventFromEnvelope(const Envelope& e, std::string_view source) {
  CloudEvent ce;
  ce.id = e.event_id;
  ce.source = source;
  ce.type = e.event_type;
  ce.subject = e.aggregate_id;
  ce.time = e.timestamp;
  ce.datacontenttype =
      codec::IsValidJsonValue(e.payload) ? "application/json" : "application/octet-stream";
  ce.data = e.payload;
  ce.extensions.emplace(kCePartitionKey, e.aggregate_id);
  ce.extensions.emplace(kCeEventVersion, std::to_string(e.event_version));
  if (!e.correlation_id.empty()) ce.extensions.emplace(kCeCorrelationId, e.correlation_id);
  if (!e.trace_id.empty()) ce.extensions.emplace(kCeTraceId, e.trace_id);
  if (e.tenant_id != 0) ce.extensions.emplace(kCeTenantId, std::to_string(e.tenant_id));
  return ce;
}

Status EnvelopeFromCloudEvent(const CloudEvent& ce, const Record& record, Envelope& out) {
  // The aggregate: the event's subject, its partition key, or the record's key.
  const std::string* partition_key = FindExtension(ce, kCePartitionKey);
  std::string_view where = "subject";
  std::string_view aggregate = ce.subject;
  if (aggregate.empty() && partition_key != nullptr && !partition_key->empty()) {
    where = kCePartitionKey;
    aggregate = *partition_key;
  }
  if (aggregate.empty() && !record.key.empty()) {
    where = "the record's key";
    aggregate = record.key;
  }
  if (aggregate.empty()) {
    return Poison(
        "aggregate_id: the CloudEvent has no subject, no partitionkey extension, and the record "
        "no key");
  }
  if (Status s = ValidateAggregateId(aggregate); !s.ok()) {
    std::string_view why = s.message();
    if (why.starts_with("aggregate_id: ")) why.remove_prefix(14);
    return Poison(std::string(where) + " as aggregate_id: " + std::string(why));
  }
  out.event_id = ce.id;
  out.aggregate_id = aggregate;
  out.event_type = ce.type;
  out.event_version = 1;
  if (const std::string* v = FindExtension(ce, kCeEventVersion)) {
    if (!ParseInt(*v, out.event_version) || out.event_version <= 0) {
      return Poison(std::string(kCeEventVersion) + ": " + codec::QuoteValue(*v) +
                    " is not an integer > 0");
    }
  }
  if (ce.time) {
    out.timestamp = *ce.time;
  } else {
    out.timestamp =
        Timestamp{std::chrono::time_point_cast<std::chrono::nanoseconds>(record.timestamp), 0};
  }
  const std::string* trace = FindExtension(ce, kCeTraceId);
  out.trace_id = trace != nullptr ? *trace : std::string();
  const std::string* correlation = FindExtension(ce, kCeCorrelationId);
  out.correlation_id = correlation != nullptr ? *correlation : std::string();
  out.tenant_id = 0;
  if (const std::string* t = FindExtension(ce, kCeTenantId)) {
    if (!ParseInt(*t, out.tenant_id)) {
      return Poison(std::string(kCeTenantId) + ": " + codec::QuoteValue(*t) + " is not an integer");
    }
  }
  if (!ce.data || ce.data->empty()) {
    return Poison("data: missing; an Envelope needs a payload");
  }
  out.payload = *ce.data;  // any datacontenttype: non-JSON data is delivered as its bytes
  return codec::AsPoison(codec::ValidateFields(out, /*event_id_required=*/true));
}

Status DecodeEnvelopeFromRecord(const Record& record, Envelope& out, PayloadFormat format) {
  const std::optional<CloudEventMode> mode = DetectCloudEvent(record.headers);
  Status envelope_error;
  if (!mode) {
    envelope_error = DecodeEnvelopeInto(record.payload, out, format);
    // A structured CloudEvent sent without its content-type header.
    if (envelope_error.ok() || record.payload.find("\"specversion\"") == std::string::npos) {
      return envelope_error;
    }
  }
  Result<CloudEvent> ce = DecodeCloudEvent(record);
  if (!ce.ok()) {
    if (mode) return ce.status();
    return Poison(envelope_error.message() +
                  " (nor a structured CloudEvent: " + ce.status().message() + ")");
  }
  return EnvelopeFromCloudEvent(*ce, record, out);
}

}  // namespace evbus
