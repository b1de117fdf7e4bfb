// Store: the outbox's and inbox's statements on one database connection,
// written once per database (sqlite_store.cc, postgres_store.cc) so that the
// relay, the inbox and the CLI share one narrow interface.
//
// Times are microseconds since the Unix epoch (columns *_us), the same on
// both databases.
//
// Thread safety: a Store is one connection; one thread at a time.

#ifndef EVBUS_OUTBOX_STORE_H_
#define EVBUS_OUTBOX_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "evbus/database.h"
#include "evbus/outbox.h"
#include "evbus/status.h"

namespace evbus::outbox {

// Row states (evbus_outbox.state).
inline constexpr int kStatePending = 0;
inline constexpr int kStatePublished = 1;
inline constexpr int kStateDead = 2;

struct OutboxRow {
  int64_t id = 0;
  std::string topic;
  std::string envelope;  // the encoded envelope
  int attempts = 0;      // failed publishes charged so far
  std::string aggregate_id;
  int64_t head_id = 0;  // the aggregate's first unpublished row
};

// What a round did to one claimed row.
struct RowOutcome {
  int64_t id = 0;
  enum Kind { kAcked, kRetry, kDead, kUntouched } kind = kUntouched;
  int attempts = 0;             // kRetry, kDead: the new count
  int64_t next_attempt_us = 0;  // kRetry
  std::string error;            // kRetry, kDead
};

class Store {
 public:
  virtual ~Store() = default;

  // See Outbox::Migrate. `up_to` stops at an older version (tests of the
  // migration itself).
  virtual Status Migrate(int up_to = kOutboxSchemaVersion) = 0;

  // At most `limit` pending rows in id order, of aggregates whose first
  // unpublished row is pending and due at `now_us` (see kClaimRows).
  // PostgreSQL: in a transaction that locks them (FOR UPDATE SKIP LOCKED),
  // so that other relays skip them, until Settle() or Abandon().
  virtual Status Claim(int limit, int64_t now_us, std::vector<OutboxRow>& out) = 0;
  // Writes the outcomes of the claimed rows (and ends the claim).
  virtual Status Settle(std::span<const RowOutcome> outcomes, int64_t now_us) = 0;
  // Ends a claim without writing (rows stay as they were).
  virtual void Abandon() = 0;

  // Deletes at most `limit` published rows published before `before_us`.
  virtual Result<int64_t> DeletePublished(int64_t before_us, int limit) = 0;
  virtual Result<OutboxStatus> ReadStatus(int64_t now_us) = 0;
  virtual Result<int64_t> RetryDead(std::optional<int64_t> id) = 0;

  // Inbox: begins a transaction that will hold the handler's work and
  // records (group, key) in it. False (and the transaction rolled back) when
  // the key was already recorded.
  virtual Result<bool> BeginInbox(std::string_view group, std::string_view key, int64_t now_us) = 0;
  virtual Status Commit() = 0;
  virtual void Rollback() = 0;
  // Deletes recorded keys older than `before_us`; how many.
  virtual Result<int64_t> PurgeInbox(int64_t before_us) = 0;

  // The connection, for the inbox handler's statements.
  virtual Transaction transaction() = 0;
  // False once the connection is known broken (drop it, open another).
  virtual bool healthy() const = 0;
};

// Which database a URL names, and what to open.
struct DatabaseUrl {
  enum Kind { kSqlite, kPostgres } kind = kSqlite;
  std::string target;  // the SQLite path or URI, or the libpq URI
  // The SQLite file a relay locks; empty for in-memory databases.
  std::string lock_path;
};
// Errors: InvalidArgument naming `url`.
Result<DatabaseUrl> ParseDatabaseUrl(std::string_view url);

struct StoreOptions {
  int busy_timeout_ms = 10000;  // SQLite: how long to wait for another writer
  // SQLite in WAL mode: commit without fsync (synchronous=NORMAL). For the
  // relay's marks only: a mark lost to a power cut republishes the row (a
  // duplicate, which the inbox absorbs), it never loses one.
  bool relaxed_sync = false;
  // SQLite: create the file when it is missing (not for status and retry,
  // which must not leave an empty database behind a mistyped path).
  bool create = true;
};
// Opens a connection. Errors: InvalidArgument (URL), Unavailable.
Result<std::unique_ptr<Store>> OpenStore(std::string_view url, StoreOptions options = {});
Result<std::unique_ptr<Store>> OpenSqliteStore(const DatabaseUrl& url, StoreOptions options);
Result<std::unique_ptr<Store>> OpenPostgresStore(const DatabaseUrl& url, StoreOptions options);

// A Store on the caller's connection, which it does not close.
std::unique_ptr<Store> BorrowSqlite(sqlite3* db);
std::unique_ptr<Store> BorrowPostgres(pg_conn* db);

// Microseconds since the epoch, now.
int64_t NowMicros();

}  // namespace evbus::outbox

#endif  // EVBUS_OUTBOX_STORE_H_
