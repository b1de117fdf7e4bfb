// TraceContext: a W3C Trace Context (traceparent and tracestate), as carried
// in a record's headers from the publisher to the handler.
//
// evbus carries the `traceparent` and `tracestate` headers untouched on every
// transport (Kafka headers, NATS headers, the memory broker), into each retry
// attempt and onto the dead-letter record. It starts no spans and depends on
// no tracing library: a publish interceptor (EventBus::AddPublishInterceptor)
// writes the current span's context into each record, and a handler reads it
// back with Delivery::trace().
//
//   traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
//                ^^ ^ trace id (32 hex digits)       ^ parent id      ^ flags
//
// Thread safety: a plain value type. New() and Child() may be called from any
// thread (each thread has its own random generator).

#ifndef EVBUS_TRACE_CONTEXT_H_
#define EVBUS_TRACE_CONTEXT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "evbus/export.h"
#include "evbus/record.h"
#include "evbus/status.h"

namespace evbus {

// The header names, lower case as the W3C spells them. Reading matches any case.
inline constexpr char kTraceparentHeader[] = "traceparent";
inline constexpr char kTracestateHeader[] = "tracestate";

struct EVBUS_EXPORT TraceContext {
  std::string trace_id;    // 32 lowercase hex digits, not all zero
  std::string parent_id;   // 16 lowercase hex digits, not all zero: the span that published
  uint8_t flags = 0;       // trace-flags; bit 0 (kSampled): the caller recorded its span
  std::string tracestate;  // vendor entries ("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"), or empty

  static constexpr uint8_t kSampled = 0x01;
  bool sampled() const { return (flags & kSampled) != 0; }

  // Parses a traceparent header value (and the tracestate that came with it)
  // by the W3C rules: version 00 is exactly "00-<32 hex>-<16 hex>-<2 hex>" in
  // lowercase; a higher version (not ff) is read the same way and may carry
  // more after a '-' following the flags; surrounding spaces and tabs are
  // ignored. An invalid `tracestate` (bad key or value, a duplicated key,
  // more than 32 entries) is dropped, not an error, as the spec says.
  // Errors: InvalidArgument naming the value and what is wrong with it.
  static Result<TraceContext> Parse(std::string_view traceparent, std::string_view tracestate = {});

  // The context in `headers`: the one traceparent header (any case) and
  // every tracestate header joined in order. nullopt when there is no
  // traceparent, more than one, or an invalid one.
  static std::optional<TraceContext> FromHeaders(const Headers& headers);

  // A new trace: random trace and parent ids, `sampled` in the flags, no tracestate.
  static TraceContext New(bool sampled = true);

  // The context a span started under this one sends on: the same trace id,
  // flags and tracestate, and a new random parent (span) id.
  TraceContext Child() const;

  // "00-<trace_id>-<parent_id>-<flags>": always version 00, the one evbus
  // speaks (a context parsed from a higher version is sent on as 00).
  std::string traceparent() const;

  // Writes traceparent (and tracestate, when not empty) into `headers`,
  // replacing any traceparent and tracestate headers already there.
  void Inject(Headers& headers) const;

  bool operator==(const TraceContext&) const = default;
};

}  // namespace evbus

#endif  // EVBUS_TRACE_CONTEXT_H_
