// Per-publish options of EventBus::Publish, PublishEnvelope, their Sync
// forms and PublishBatch, and the callback of a batch.
//
// Thread safety: plain value types.

#ifndef EVBUS_PUBLISH_OPTIONS_H_
#define EVBUS_PUBLISH_OPTIONS_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>

#include "evbus/config.h"
#include "evbus/handler.h"
#include "evbus/record.h"

namespace evbus {

struct PublishOptions {
  // Appended to the record's headers (after an envelope's X-* headers), in
  // order. Carried to the subscriber on every transport (NATS keeps the
  // order of one key's values, not the order across keys); e.g. traceparent.
  Headers headers;
  // Stores the record in this partition instead of the key's. Per-key order
  // then is the caller's business: records of one key in two partitions are
  // consumed in parallel. Must be below the topic's partition count (NATS:
  // nats.partitions; 1 in the jxt layout); one out of range fails naming
  // it: at the call where the transport knows the count (memory, NATS, and
  // Kafka once it has the topic's metadata), else as the publish's result.
  // Default: the key's partition (a random one for records without a key).
  std::optional<int32_t> partition;
  // How long this publish may wait for room (publisher.max_in_flight) and a
  // rate token (publisher.rate_limit); for the Sync forms, also for the
  // broker's acknowledgement (one deadline for both). Default: publisher.timeout.
  std::optional<Duration> timeout;
};

// One call per message of a PublishBatch, with the message's index in the
// batch. Calls for different messages may run at once on different threads.
using BatchCallback = std::function<void(size_t index, const PublishResult& result)>;

// Sees (and may change) every record the application publishes — records,
// envelopes, Sync and batch publishes alike — on the publishing thread, after
// the PublishOptions are applied and right before the record goes to the
// transport: e.g. to write the current span's traceparent into its headers
// (TraceContext::Inject). Not called for the bus's own records (dead letters,
// health checks). Must not publish on this bus.
using PublishInterceptor = std::function<void(Record& record)>;

}  // namespace evbus

#endif  // EVBUS_PUBLISH_OPTIONS_H_
