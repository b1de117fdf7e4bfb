// Idempotent inbox: a handler wrapper that applies each event's side effects
// once, although the bus delivers at least once.
//
// In one database transaction the inbox records (consumer group, event key)
// in evbus_inbox and runs the handler on the same connection; both commit or
// neither does. A redelivered event whose key is recorded is acknowledged
// without running the handler.
//
//   auto inbox = evbus::Inbox::Open({.database = "sqlite:orders.db",
//                                    .consumer_group = "billing"});
//   bus->SubscribeEnvelope("orders", inbox.value()->Wrap(
//       [](const evbus::Envelope& e, const evbus::Delivery&, evbus::Transaction& tx) {
//         ... statements on tx.sqlite ...
//         return evbus::Status::Ok();      // an error or an exception rolls back both
//       }));
//
// The event key is the envelope's event_id. Envelopes without one (jxt-core
// before bf8ec78) are keyed by "~aggregate_id/event_version/event_type/
// timestamp" (KeyOf): a republished event carries the same four values.
//
// Connections: the inbox opens its own, one per handler running at once (so
// at most subscriber.workers), and reuses them. On SQLite the transactions of
// parallel handlers take turns (BEGIN IMMEDIATE, with a busy timeout).
//
// Thread safety: Wrap's handlers run on any number of worker threads at once.

#ifndef EVBUS_INBOX_H_
#define EVBUS_INBOX_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "evbus/database.h"
#include "evbus/envelope.h"
#include "evbus/export.h"
#include "evbus/handler.h"
#include "evbus/status.h"

namespace evbus {

struct InboxOptions {
  std::string database = {};        // URL (database.h); required
  std::string consumer_group = {};  // required; keys are recorded per group
  // Recorded keys older than this are deleted (a redelivery later than that
  // runs the handler again). Default 7 days.
  std::chrono::seconds retention{std::chrono::hours(24 * 7)};
  // How long a SQLite transaction waits for another writer.
  std::chrono::milliseconds busy_timeout{10000};
};

struct InboxStats {
  uint64_t handled = 0;     // handler ran and committed
  uint64_t duplicates = 0;  // acknowledged without running the handler
  uint64_t failed = 0;      // handler failed or threw, or the commit failed: rolled back
  uint64_t purged = 0;      // keys deleted after the retention
};

// What a wrapped handler receives: the event, its delivery, and the open
// transaction its statements must use.
using InboxHandler =
    std::function<Status(const Envelope&, const Delivery&, Transaction& transaction)>;

class EVBUS_EXPORT Inbox {
 public:
  // Connects once (to check the URL) and migrates the schema.
  // Errors: InvalidArgument (options, naming the field), Unavailable.
  static Result<std::unique_ptr<Inbox>> Open(InboxOptions options);
  ~Inbox();
  Inbox(const Inbox&) = delete;
  Inbox& operator=(const Inbox&) = delete;

  // A handler for EventBus::SubscribeEnvelope. Its result is the handler's,
  // or Unavailable when the database failed (then the bus retries it). The
  // handler shares the inbox's connections, so it may outlive the Inbox.
  EnvelopeHandler Wrap(InboxHandler handler);

  InboxStats stats() const;

  // The key an envelope is recorded under: its event_id, or the fallback above.
  static std::string KeyOf(const Envelope& envelope);

  class Impl;

 private:
  explicit Inbox(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace evbus

#endif  // EVBUS_INBOX_H_
