// CloudEvents 1.0: the event value type, its Kafka and NATS protocol
// bindings (binary and structured content modes, JSON event format), and the
// mapping between a CloudEvent and an Envelope.
//
// Binary mode: the attributes travel as record headers named prefix +
// attribute ("ce_id" on Kafka and the memory broker, "ce-id" on NATS) and the
// record's payload is `data`, as is. datacontenttype goes to the
// "content-type" header on Kafka and memory, to "ce-datacontenttype" on NATS
// (each binding's rule); NATS header values are percent-encoded.
// Structured mode: the payload is the JSON event format and the content-type
// header ("Content-Type" on NATS) is "application/cloudevents+json". JSON data
// (a datacontenttype of */json or */*+json) is embedded as is; other data is
// written as "data_base64".
//
// Envelope mapping (EventBus::PublishEnvelope on a topic whose
// TopicConfig::format is a CloudEvents one, and every envelope subscriber):
//   id = event_id            source = Config::service_name   type = event_type
//   subject = aggregate_id   time = timestamp                datacontenttype = application/json
//   extensions: partitionkey = aggregate_id (the Partitioning extension),
//   eventversion, correlationid (the Correlation extension), traceid,
//   tenantid (the last three only when set).
// A CloudEvent from any producer decodes as an Envelope: see EnvelopeFromCloudEvent.
//
// Thread safety: CloudEvent is a value type; the free functions are reentrant.

#ifndef EVBUS_CLOUDEVENTS_H_
#define EVBUS_CLOUDEVENTS_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "evbus/envelope.h"
#include "evbus/export.h"
#include "evbus/record.h"
#include "evbus/status.h"

namespace evbus {

// The media type of the JSON event format (structured mode).
inline constexpr std::string_view kCloudEventsJson = "application/cloudevents+json";

// Extension attributes the Envelope mapping reads and writes.
inline constexpr std::string_view kCePartitionKey = "partitionkey";    // aggregate_id
inline constexpr std::string_view kCeEventVersion = "eventversion";    // event_version
inline constexpr std::string_view kCeCorrelationId = "correlationid";  // correlation_id
inline constexpr std::string_view kCeTraceId = "traceid";              // trace_id
inline constexpr std::string_view kCeTenantId = "tenantid";            // tenant_id

struct CloudEvent {
  // Required, non-empty.
  std::string id;
  std::string source;  // a URI-reference
  std::string specversion = "1.0";
  std::string type;
  // Optional: empty means absent.
  std::string subject;
  std::optional<Timestamp> time;
  std::string datacontenttype;      // an RFC 2046 media type, e.g. "application/json"
  std::string dataschema;           // a URI
  std::optional<std::string> data;  // the bytes; absent is not the same as empty
  // Extension attributes by name (lowercase a-z and 0-9), in their canonical
  // string form: an Integer 5 is "5", a Boolean "true". Structured mode writes
  // them as JSON strings.
  std::map<std::string, std::string> extensions;

  bool operator==(const CloudEvent&) const = default;
};

enum class CloudEventMode { kBinary, kStructured };

// The protocol binding's naming rules: header prefix "ce_" and a plain
// "content-type" header (Kafka, also used by the memory broker), or prefix
// "ce-", datacontenttype as "ce-datacontenttype" and percent-encoded header
// values (NATS).
enum class CloudEventBinding { kKafka, kNats };

// Checks the rules of CloudEvents 1.0: specversion "1.0"; id, source and type
// non-empty; extension names of lowercase a-z and 0-9, none named "data" or
// like a core attribute; every string valid UTF-8 without control characters;
// datacontenttype of the form type/subtype.
// Errors: InvalidArgument whose message starts with the attribute's name,
// e.g. "specversion: \"0.3\" is not supported (only 1.0)".
EVBUS_EXPORT Status ValidateCloudEvent(const CloudEvent& event);

// Validates `event`, then sets out.payload and appends the headers of `mode`
// under `binding`. out.topic and out.key are the caller's (the key is not
// part of the event: EventBus::PublishEnvelope keys by the aggregate id).
// Errors: those of ValidateCloudEvent; InvalidArgument ("data: ...") in
// structured mode when a JSON datacontenttype comes with data that is not one
// JSON value.
EVBUS_EXPORT Status EncodeCloudEvent(const CloudEvent& event, CloudEventMode mode,
                                     CloudEventBinding binding, Record& out);

// The mode a record's headers announce, if any, by a header scan that does
// not allocate: a content-type (any case) of application/cloudevents... is
// structured; else a ce_specversion or ce-specversion header is binary.
EVBUS_EXPORT std::optional<CloudEventMode> DetectCloudEvent(const Headers& headers);

// Decodes a record in either mode (DetectCloudEvent; a record announcing
// neither is read as structured). Binary mode accepts either prefix, and
// header names in any case for "ce-". An empty binary payload means no data.
// Errors: kPoison naming the bad attribute, e.g. "id: missing",
// "specversion: \"0.3\" is not supported (only 1.0)", "Bad_Name: an attribute
// name must be lowercase a-z and 0-9", or "content-type: ... only the JSON
// event format is supported".
EVBUS_EXPORT Result<CloudEvent> DecodeCloudEvent(const Record& record);

// The CloudEvent of an envelope published by a service named `source` (see
// the mapping above). datacontenttype is application/json when the payload
// is one JSON value, else application/octet-stream.
// REQUIRES: Validate(envelope, PayloadFormat::kBase64) is OK.
EVBUS_EXPORT CloudEvent CloudEventFromEnvelope(const Envelope& envelope, std::string_view source);

// The envelope of a CloudEvent from any producer, received in `record`:
// aggregate_id from subject, else the partitionkey extension, else the
// record's key; event_version from the eventversion extension, else 1;
// timestamp from time, else the record's timestamp; payload = data as is
// (any datacontenttype: non-JSON data is delivered as its bytes).
// `out` keeps its strings' capacity. Errors: kPoison naming the problem, e.g.
// "aggregate_id: the CloudEvent has no subject, no partitionkey extension,
// and the record no key", "eventversion: \"x\" is not an integer > 0",
// "data: missing; an Envelope needs a payload".
EVBUS_EXPORT Status EnvelopeFromCloudEvent(const CloudEvent& event, const Record& record,
                                           Envelope& out);

// What a subscriber does with every record: a CloudEvent in either mode
// (EnvelopeFromCloudEvent), else the JSON envelope (DecodeEnvelopeInto with
// `format`); a JSON envelope that fails to decode but names "specversion" is
// tried as a structured CloudEvent sent without its content-type header. A
// plain envelope costs one header scan more than DecodeEnvelopeInto.
// Errors: kPoison, as DecodeEnvelopeInto and DecodeCloudEvent.
EVBUS_EXPORT Status DecodeEnvelopeFromRecord(const Record& record, Envelope& out,
                                             PayloadFormat format = PayloadFormat::kAuto);

}  // namespace evbus

#endif  // EVBUS_CLOUDEVENTS_H_
