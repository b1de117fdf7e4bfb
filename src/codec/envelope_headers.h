// The record headers that go with an envelope (DESIGN §5): what evbus's
// publisher sends, and what the benchmarks' raw baselines send too so that
// both move the same bytes.

#ifndef EVBUS_CODEC_ENVELOPE_HEADERS_H_
#define EVBUS_CODEC_ENVELOPE_HEADERS_H_

#include <vector>

#include "evbus/envelope.h"
#include "evbus/record.h"

namespace evbus::codec {

// Appends X-Event-ID, X-Aggregate-ID, X-Event-Type and X-Event-Version, then
// X-Trace-ID, X-Correlation-ID and X-Tenant-ID when set, in that order; the
// older generations leave out what jxt-core did not send then (kEventId:
// X-Tenant-ID; kSeed: X-Event-ID and X-Tenant-ID).
void AppendEnvelopeHeaders(const Envelope& e, std::vector<Header>& headers,
                           WireGeneration generation = WireGeneration::kCurrent);

}  // namespace evbus::codec

#endif  // EVBUS_CODEC_ENVELOPE_HEADERS_H_
