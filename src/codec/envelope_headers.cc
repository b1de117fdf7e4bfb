#include "codec/envelope_headers.h"

#include <string>

namespace evbus::codec {

void AppendEnvelopeHeaders(const Envelope& e, std::vector<Header>& headers,
                           WireGeneration generation) {
  // Exactly the headers written: a Header is 64 bytes, so room for all seven
  // on every publish was a 448-byte allocation for the usual four.
  const bool tenant = e.tenant_id != 0 && generation == WireGeneration::kCurrent;
  headers.reserve(headers.size() + 3 + (generation != WireGeneration::kSeed) + !e.trace_id.empty() +
                  !e.correlation_id.empty() + tenant);
  if (generation != WireGeneration::kSeed) headers.push_back({"X-Event-ID", e.event_id});
  headers.push_back({"X-Aggregate-ID", e.aggregate_id});
  headers.push_back({"X-Event-Type", e.event_type});
  headers.push_back({"X-Event-Version", std::to_string(e.event_version)});
  if (!e.trace_id.empty()) headers.push_back({"X-Trace-ID", e.trace_id});
  if (!e.correlation_id.empty()) headers.push_back({"X-Correlation-ID", e.correlation_id});
  if (tenant) headers.push_back({"X-Tenant-ID", std::to_string(e.tenant_id)});
}

}  // namespace evbus::codec
