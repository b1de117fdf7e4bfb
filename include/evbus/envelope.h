// Envelope: a domain event and its JSON wire format (compatible with jxt-core).
//
// Wire format, keys always in this order:
//   {"event_id":"...","aggregate_id":"...","event_type":"...","event_version":3,
//    "timestamp":"2025-10-13T20:25:08.406123+08:00","trace_id":"...",
//    "correlation_id":"...","tenant_id":7,"payload":{...}}
// trace_id and correlation_id are omitted when empty, tenant_id when 0. The
// timestamp is RFC 3339 as Go's time.RFC3339Nano writes it: nanoseconds with
// trailing zeros trimmed (no fraction when it is zero), "Z" for UTC, otherwise
// the "+hh:mm" offset the event was stamped with.
//
// The payload is embedded raw JSON (an object, array, number, true or false;
// never a string) or, as older jxt-core wrote it, a base64 string. Because a
// raw payload is never a JSON string, the two forms cannot be mistaken for each
// other: PayloadFormat::kAuto reads a string as base64 and anything else as raw
// JSON, and a payload in the other form than the one asked for is poison with
// a reason, never handed over altered.
//
// jxt-core's envelope had three generations (WireGeneration); evbus decodes
// all three. event_id is optional on decode (the seed-era envelope had none:
// Envelope::event_id is then empty), tenant_id is an integer or absent.
//
// Decoding keeps the payload's bytes exactly as received (never parsed and
// re-written, so 763.20 stays 763.20 and key order is kept), ignores unknown
// keys, and rejects duplicate known keys. A record that fails decoding or
// validation is "poison" (ErrorCode::kPoison on the consumer side).
//
// Thread safety: Envelope is a value type; the free functions are reentrant.

#ifndef EVBUS_ENVELOPE_H_
#define EVBUS_ENVELOPE_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "evbus/export.h"
#include "evbus/status.h"

namespace evbus {

enum class PayloadFormat {
  kRawJson,  // "payload": <embedded JSON value, not a string>  (the publishing default)
  kBase64,   // "payload": "<standard base64 of the bytes>"     (jxt-core before cf575b6)
  kAuto,     // decoding only: a string is base64, any other value raw JSON
             // (the subscribing default; encoding with it writes raw JSON)
};

// The generation of jxt-core's envelope an encoder writes, so that a C++
// service can feed a Go consumer of any age.
enum class WireGeneration {
  kCurrent,  // jxt-core >= cf575b6 and evbus: every field, payload per PayloadFormat
  kEventId,  // jxt-core bf8ec78..cf575b6: no tenant_id, payload base64
  kSeed,     // jxt-core 917247d (the seed): no event_id, no tenant_id, payload base64
};

// A point in time plus the UTC offset it was written with, so that a decoded
// timestamp re-encodes to the same text.
struct EVBUS_EXPORT Timestamp {
  std::chrono::sys_time<std::chrono::nanoseconds> time{};
  int utc_offset_minutes = 0;  // -1439 .. 1439

  // The current time, UTC.
  static Timestamp Now();
  bool operator==(const Timestamp&) const = default;
};

struct Envelope {
  std::string event_id;        // required to encode (except WireGeneration::kSeed),
                               // empty when a decoded record had none; see NewEventId()
  std::string aggregate_id;    // required; see ValidateAggregateId()
  std::string event_type;      // required, non-blank
  int64_t event_version = 1;   // required, > 0
  Timestamp timestamp;         // defaults to the epoch; NewEnvelope() stamps now
  std::string trace_id;        // optional
  std::string correlation_id;  // optional
  int64_t tenant_id = 0;       // optional, 0 = none
  // The payload bytes. With kRawJson they must be one valid JSON value other
  // than a string; with kBase64 they may be any non-empty bytes.
  std::string payload;

  bool operator==(const Envelope&) const = default;
};

// Returns an envelope with a fresh UUIDv7 event id and the current time.
EVBUS_EXPORT Envelope NewEnvelope(std::string aggregate_id, std::string event_type,
                                  int64_t event_version, std::string payload);

// A new time-ordered event id: an RFC 9562 UUIDv7 in lowercase 8-4-4-4-12 form.
// Ids from one process are strictly increasing (a counter fills the sub-ms bits).
// Thread-safe.
EVBUS_EXPORT std::string NewEventId();

// Aggregate id rule: after trimming spaces it is non-empty, at most 256
// characters, all of [A-Za-z0-9:_-./]. The stored value is not trimmed.
// Errors: InvalidArgument naming the rule broken (and the offending character).
EVBUS_EXPORT Status ValidateAggregateId(std::string_view aggregate_id);

// Checks every rule of the wire format (required fields, version > 0, aggregate
// id rule, valid UTF-8 in strings, UTC offset range, and for kRawJson/kAuto
// that the payload is one well-formed JSON value that is not a string). The
// event id is not required for WireGeneration::kSeed, which does not carry it.
// Errors: InvalidArgument whose message starts with the field name.
EVBUS_EXPORT Status Validate(const Envelope& envelope,
                             PayloadFormat format = PayloadFormat::kRawJson,
                             WireGeneration generation = WireGeneration::kCurrent);

// Validates, then appends the JSON encoding to `out`: the fields `generation`
// has, its payload form (base64 for kEventId and kSeed, whatever `format`
// says), keys in the order above.
// Errors: those of Validate().
EVBUS_EXPORT Status EncodeEnvelope(const Envelope& envelope, std::string& out,
                                   PayloadFormat format = PayloadFormat::kRawJson,
                                   WireGeneration generation = WireGeneration::kCurrent);
EVBUS_EXPORT Result<std::string> EncodeEnvelope(
    const Envelope& envelope, PayloadFormat format = PayloadFormat::kRawJson,
    WireGeneration generation = WireGeneration::kCurrent);

// Decodes and validates one envelope of any generation, reading the payload
// as `format` says. Input of any size is accepted; nesting deeper than 1024
// levels is rejected.
// Errors: kPoison with a message naming the bad key or value, e.g.
//   "event_version: must be > 0, got -3", "aggregate_id: missing" or
//   "payload: a base64 string, but payload_format is raw_json ...".
EVBUS_EXPORT Result<Envelope> DecodeEnvelope(std::string_view json,
                                             PayloadFormat format = PayloadFormat::kAuto);
// The same into `out`, reusing the capacity of its strings, so decoding many
// envelopes into one object allocates nothing once warm. On error `out` holds
// partial data. Errors: as DecodeEnvelope.
EVBUS_EXPORT Status DecodeEnvelopeInto(std::string_view json, Envelope& out,
                                       PayloadFormat format = PayloadFormat::kAuto);

// RFC 3339 helpers used by the codec, public for tools and tests.
EVBUS_EXPORT std::string FormatRfc3339(const Timestamp& ts);
EVBUS_EXPORT Result<Timestamp> ParseRfc3339(std::string_view text);

}  // namespace evbus

#endif  // EVBUS_ENVELOPE_H_
