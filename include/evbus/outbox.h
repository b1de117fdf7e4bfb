// Transactional outbox: events written in the caller's own database
// transaction, published by a relay once that transaction commits.
//
// Publishing straight to the broker after a commit loses the event when the
// process dies between the two. With the outbox, the event is one more row of
// the transaction that changed the state, so it exists exactly when the
// change does; the relay then publishes it at least once.
//
//   sqlite3* db = ...;                                  // the service's own connection
//   evbus::Outbox::Migrate(db);                         // once, at start-up
//   sqlite3_exec(db, "BEGIN", ...);
//   ... the service's own statements ...
//   evbus::Outbox::Add(db, "orders", evbus::NewEnvelope("order-42", "OrderPlaced", 1, R"({})"));
//   sqlite3_exec(db, "COMMIT", ...);                    // or ROLLBACK: then no event either
//
//   auto relay = evbus::OutboxRelay::Start(*bus, {.database = "sqlite:orders.db"});
//   ...
//   relay.value()->Close();                             // before the bus's Close()
//
// Order: rows of one aggregate are published in id order (the order their
// transactions inserted them), one at a time: a row is published only once
// every earlier row of its aggregate has been acknowledged by the broker. A
// row that fails is retried with backoff and, after RetryPolicy::max_attempts,
// becomes dead: it and the later rows of its aggregate wait (never skipped)
// until `evbus outbox retry` or RetryDeadOutboxRows() puts it back. Rows of
// different aggregates go in parallel, in batches.
//
// Delivery: at least once. A row is marked published only on the broker's
// acknowledgement; a relay that dies in between publishes the row again
// (duplicates, at most a batch per crash, which Inbox absorbs).
//
// Thread safety: Migrate and Add are reentrant (one connection per thread, as
// SQLite and libpq require). OutboxRelay's methods may be called from any
// thread.

#ifndef EVBUS_OUTBOX_H_
#define EVBUS_OUTBOX_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "evbus/config.h"
#include "evbus/database.h"
#include "evbus/envelope.h"
#include "evbus/export.h"
#include "evbus/handler.h"
#include "evbus/status.h"

namespace evbus {

class EventBus;

// The schema version this evbus creates and reads (evbus_schema.version).
// 1: evbus_outbox; 2: evbus_inbox.
inline constexpr int kOutboxSchemaVersion = 2;

class EVBUS_EXPORT Outbox {
 public:
  // Creates evbus's tables, or migrates them from an older version, in a
  // transaction of its own (so not inside an open one). Idempotent; several
  // processes may call it at once.
  // Errors: FailedPrecondition (a transaction is open, or the database's
  // schema is newer than this evbus), Unavailable (the database failed).
  static Status Migrate(sqlite3* db);
  static Status Migrate(pg_conn* db);
  // The same on a database named by URL (see database.h).
  static Status Migrate(std::string_view database_url);

  // Adds `envelope` for `topic` as a row of the transaction open on `db`.
  // The envelope is validated and encoded here (as `format` says), so a bad
  // one fails now, inside the caller's transaction, naming the field.
  // Errors: InvalidArgument (empty topic, an invalid envelope; a missing
  // event id: see NewEventId), FailedPrecondition (no transaction open on
  // `db`), Unavailable (the insert failed; the caller's transaction should
  // be rolled back).
  static Status Add(sqlite3* db, std::string_view topic, const Envelope& envelope,
                    PayloadFormat format = PayloadFormat::kRawJson);
  static Status Add(pg_conn* db, std::string_view topic, const Envelope& envelope,
                    PayloadFormat format = PayloadFormat::kRawJson);
};

struct OutboxRelayOptions {
  std::string database = {};  // URL (database.h); required
  int batch_size = 1000;      // rows claimed (and marked) per round, 1..100000
  // When nothing is due: how long the relay waits before looking again.
  std::chrono::milliseconds poll_interval{20};
  // Per row. Backoff grows from initial_backoff; after max_attempts failed
  // publishes the row is dead. A round in which every publish failed with a
  // retriable error (the broker is down, not the rows) charges no attempt.
  RetryPolicy retry{.max_attempts = 10,
                    .initial_backoff = std::chrono::milliseconds(200),
                    .max_backoff = std::chrono::seconds(30),
                    .multiplier = 2.0,
                    .jitter = 0.2};
  // How long a round waits for the broker's answers. Rows unanswered by
  // then stay pending and go again in a later round (possibly twice, never
  // out of order); this also bounds Close().
  std::chrono::milliseconds ack_timeout{10000};
  // Published rows are deleted once older than this (0: at once).
  std::chrono::seconds retention{std::chrono::hours(24)};
  // How often the relay counts pending and dead rows (stats, health).
  std::chrono::milliseconds status_interval{1000};
  // Problems no call returns (the database or the bus failing), from the
  // relay's thread. Optional.
  ErrorCallback on_error = nullptr;
};

// Counted since Start(); the row counts are sampled every status_interval.
struct OutboxRelayStats {
  uint64_t published = 0;        // rows the broker acknowledged and the relay marked
  uint64_t failed_attempts = 0;  // publishes that failed and were charged to their row
  uint64_t went_dead = 0;        // rows that became dead
  uint64_t rounds = 0;           // batches claimed
  uint64_t deleted = 0;          // published rows deleted after the retention
  int64_t pending_rows = 0;      // not yet published (including rows in backoff)
  int64_t dead_rows = 0;
  std::chrono::milliseconds oldest_pending_age{0};
  bool database_ok = false;  // the last database call succeeded
  std::string last_error;    // the last problem, empty if none
};

struct OutboxRelayHealth {
  bool healthy = false;  // running, database reachable, no dead row
  std::string detail;    // why not, for people
};

class EVBUS_EXPORT OutboxRelay {
 public:
  // Connects to the database, migrates the schema, and starts the relay's
  // thread ("evb-outbox", census component "outbox-relay"), which publishes
  // through `bus`. On SQLite one relay per database file is enforced: a
  // second one, in this process or another, fails with AlreadyExists.
  // REQUIRES: `bus` outlives the relay; Close() the relay before the bus.
  // Errors: InvalidArgument (options, naming the field), AlreadyExists,
  // Unavailable (the database).
  static Result<std::unique_ptr<OutboxRelay>> Start(EventBus& bus, OutboxRelayOptions options);

  // Closes if Close() was not called.
  ~OutboxRelay();
  OutboxRelay(const OutboxRelay&) = delete;
  OutboxRelay& operator=(const OutboxRelay&) = delete;

  // Stops claiming and publishing, waits for the answers to what the round
  // in flight already published (at most ack_timeout), marks them, and joins
  // the thread. Idempotent.
  void Close();

  OutboxRelayStats stats() const;
  OutboxRelayHealth health() const;
  // The stats in Prometheus text format (evbus_outbox_*), for a metrics
  // endpoint of the service's own.
  std::string MetricsText() const;

  class Impl;

 private:
  explicit OutboxRelay(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// What `evbus outbox status` prints.
struct OutboxStatus {
  int schema_version = 0;  // 0: evbus's tables do not exist
  int64_t pending = 0;     // not yet published (including rows in backoff)
  int64_t dead = 0;
  int64_t published = 0;  // published and not yet deleted (retention)
  std::chrono::milliseconds oldest_pending_age{0};
};

// Errors: Unavailable (the database), InvalidArgument (the URL).
EVBUS_EXPORT Result<OutboxStatus> ReadOutboxStatus(std::string_view database_url);

// Puts dead rows back to pending with their attempts reset: all of them, or
// only the row `id`. Returns how many rows changed.
// Errors: Unavailable, InvalidArgument, NotFound (`id` is not a dead row).
EVBUS_EXPORT Result<int64_t> RetryDeadOutboxRows(std::string_view database_url,
                                                 std::optional<int64_t> id = std::nullopt);

}  // namespace evbus

#endif  // EVBUS_OUTBOX_H_
