// Store on SQLite: the embedded default. One relay per database file (a
// lock file beside it, held with flock for the relay's life), so claims need
// no row locks; writers take turns on SQLite's one write lock, each waiting
// up to the busy timeout.

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "outbox/schema.h"
#include "outbox/sqlite_util.h"
#include "outbox/store.h"

namespace evbus::outbox {
namespace {

// SQLite's busy handler for evbus's connections. Another connection (the
// service's writer, another process) holds the write lock, and SQLite offers
// nothing to wait on but polling: its default handler backs off to 100 ms
// sleeps, which a busy writer's short gaps between commits never outlast.
// Polling every 200 us takes the lock in the next gap. Up to the timeout.
int RetryWhileBusy(void* timeout_ms, int count) {
  constexpr auto kPoll = std::chrono::microseconds(200);
  const auto limit = std::chrono::milliseconds(reinterpret_cast<intptr_t>(timeout_ms));
  if (kPoll * count >= limit) return 0;  // give up: SQLITE_BUSY
  std::this_thread::sleep_for(kPoll);
  return 1;
}

class SqliteStore final : public Store {
 public:
  SqliteStore(sqlite3* db, bool owned) : db_(db), owned_(owned) {}
  ~SqliteStore() override {
    // Statements go before the connection they belong to.
    claim_ = {}, published_ = {}, failed_ = {}, inbox_ = {};
    if (owned_) sqlite3_close_v2(db_);
  }

  Status Migrate(int up_to) override {
    if (sqlite3_get_autocommit(db_) == 0) {
      return FailedPrecondition("Outbox::Migrate: a transaction is open on this connection");
    }
    // IMMEDIATE takes the write lock now: concurrent migrators take turns.
    if (Status s = SqliteExec(db_, "BEGIN IMMEDIATE"); !s.ok()) return s;
    Status s = MigrateLocked(up_to);
    if (Status end = SqliteExec(db_, s.ok() ? "COMMIT" : "ROLLBACK"); s.ok()) s = std::move(end);
    return s;
  }

  Status Claim(int limit, int64_t now_us, std::vector<OutboxRow>& out) override {
    out.clear();
    if (Status s = Prepared(claim_, kClaimRows); !s.ok()) return s;
    claim_.Bind(1, now_us);
    claim_.Bind(2, limit);
    int rc;
    while ((rc = claim_.Step()) == SQLITE_ROW) {
      OutboxRow& row = out.emplace_back();
      row.id = claim_.Int(0);
      row.topic = claim_.Text(1);
      row.envelope = claim_.Text(2);
      row.attempts = static_cast<int>(claim_.Int(3));
      row.aggregate_id = claim_.Text(4);
      row.head_id = claim_.Int(5);
    }
    claim_.Reset();  // ends the read transaction
    return rc == SQLITE_DONE ? Status::Ok() : SqliteError(db_, "claim heads");
  }

  Status Settle(std::span<const RowOutcome> outcomes, int64_t now_us) override {
    if (Status s = Prepared(published_, kMarkPublished); !s.ok()) return s;
    if (Status s = Prepared(failed_, kMarkFailed); !s.ok()) return s;
    if (Status s = SqliteExec(db_, "BEGIN IMMEDIATE"); !s.ok()) return s;
    for (const RowOutcome& o : outcomes) {
      SqliteStatement* st = nullptr;
      if (o.kind == RowOutcome::kAcked) {
        st = &published_;
        st->Bind(1, o.id);
        st->Bind(2, now_us);
      } else if (o.kind == RowOutcome::kRetry || o.kind == RowOutcome::kDead) {
        st = &failed_;
        st->Bind(1, o.id);
        st->Bind(2, o.kind == RowOutcome::kDead ? kStateDead : kStatePending);
        st->Bind(3, o.attempts);
        st->Bind(4, o.next_attempt_us);
        st->BindText(5, o.error);
      } else {
        continue;
      }
      const int rc = st->Step();
      st->Reset();
      if (rc != SQLITE_DONE) {
        Status s = SqliteError(db_, "settle");
        (void)SqliteExec(db_, "ROLLBACK");
        return s;
      }
    }
    return SqliteExec(db_, "COMMIT");
  }

  void Abandon() override {}

  Result<int64_t> DeletePublished(int64_t before_us, int limit) override {
    SqliteStatement st;
    if (Status s = st.Prepare(db_, kDeletePublished); !s.ok()) return s;
    st.Bind(1, before_us);
    st.Bind(2, limit);
    if (st.Step() != SQLITE_DONE) return SqliteError(db_, "delete published rows");
    return static_cast<int64_t>(sqlite3_changes(db_));
  }

  Result<OutboxStatus> ReadStatus(int64_t now_us) override {
    OutboxStatus status;
    Result<int> version = Version();
    if (!version.ok()) return version.status();
    status.schema_version = *version;
    if (status.schema_version == 0) return status;
    SqliteStatement st;
    if (Status s = st.Prepare(db_, kSelectStatus); !s.ok()) return s;
    if (st.Step() != SQLITE_ROW) return SqliteError(db_, "status");
    status.pending = st.Int(0);
    status.dead = st.Int(1);
    status.published = st.Int(2);
    if (!st.IsNull(3)) {
      status.oldest_pending_age = std::chrono::milliseconds((now_us - st.Int(3)) / 1000);
    }
    return status;
  }

  Result<int64_t> RetryDead(std::optional<int64_t> id) override {
    SqliteStatement st;
    if (Status s = st.Prepare(db_, id ? kRetryOneDead : kRetryAllDead); !s.ok()) return s;
    if (id) st.Bind(1, *id);
    if (st.Step() != SQLITE_DONE) return SqliteError(db_, "retry dead rows");
    return static_cast<int64_t>(sqlite3_changes(db_));
  }

  Result<bool> BeginInbox(std::string_view group, std::string_view key, int64_t now_us) override {
    if (Status s = Prepared(inbox_, kInsertInboxKey); !s.ok()) return s;
    // IMMEDIATE: the handler will write, so take the write lock now rather
    // than fail to upgrade a read lock later (SQLITE_BUSY without waiting).
    if (Status s = SqliteExec(db_, "BEGIN IMMEDIATE"); !s.ok()) return s;
    inbox_.BindText(1, group);
    inbox_.BindText(2, key);
    inbox_.Bind(3, now_us);
    const int rc = inbox_.Step();
    inbox_.Reset();
    if (rc != SQLITE_DONE) {
      Status s = SqliteError(db_, "record inbox key");
      Rollback();
      return s;
    }
    if (sqlite3_changes(db_) == 0) {
      Rollback();
      return false;
    }
    return true;
  }

  Status Commit() override {
    Status s = SqliteExec(db_, "COMMIT");
    if (!s.ok()) Rollback();
    return s;
  }

  void Rollback() override {
    if (sqlite3_get_autocommit(db_) == 0) (void)SqliteExec(db_, "ROLLBACK");
  }

  Result<int64_t> PurgeInbox(int64_t before_us) override {
    SqliteStatement st;
    if (Status s = st.Prepare(db_, kPurgeInbox); !s.ok()) return s;
    st.Bind(1, before_us);
    if (st.Step() != SQLITE_DONE) return SqliteError(db_, "purge inbox");
    return static_cast<int64_t>(sqlite3_changes(db_));
  }

  Transaction transaction() override { return {.sqlite = db_}; }
  bool healthy() const override { return true; }

 private:
  Status Prepared(SqliteStatement& st, std::string_view sql) {
    return st.prepared() ? Status::Ok() : st.Prepare(db_, sql);
  }

  // 0 when evbus_schema does not exist.
  Result<int> Version() {
    SqliteStatement st;
    Status s = st.Prepare(db_,
                          "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND"
                          " name = 'evbus_schema'");
    if (!s.ok()) return s;
    if (st.Step() != SQLITE_ROW) return SqliteError(db_, "read schema version");
    if (st.Int(0) == 0) return 0;
    if (s = st.Prepare(db_, "SELECT version FROM evbus_schema"); !s.ok()) return s;
    return st.Step() == SQLITE_ROW ? static_cast<int>(st.Int(0)) : 0;
  }

  Status MigrateLocked(int up_to) {
    Status s =
        SqliteExec(db_, "CREATE TABLE IF NOT EXISTS evbus_schema (version INTEGER NOT NULL)");
    if (!s.ok()) return s;
    Result<int> version = Version();
    if (!version.ok()) return version.status();
    if (*version > kOutboxSchemaVersion) {
      return FailedPrecondition("evbus_schema: version " + std::to_string(*version) +
                                " is newer than this evbus knows (" +
                                std::to_string(kOutboxSchemaVersion) + ")");
    }
    if (*version >= up_to) return Status::Ok();
    for (int v = *version + 1; v <= up_to; ++v) {
      if (s = SqliteExec(db_, kSqliteSteps[v - 1]); !s.ok()) return s;
    }
    SqliteStatement st;
    s = st.Prepare(db_, *version == 0 ? "INSERT INTO evbus_schema (version) VALUES ($1)"
                                      : "UPDATE evbus_schema SET version = $1");
    if (!s.ok()) return s;
    st.Bind(1, up_to);
    return st.Step() == SQLITE_DONE ? Status::Ok() : SqliteError(db_, "write schema version");
  }

  sqlite3* db_;
  bool owned_;
  SqliteStatement claim_, published_, failed_, inbox_;
};

}  // namespace

Result<std::unique_ptr<Store>> OpenSqliteStore(const DatabaseUrl& url, StoreOptions options) {
  sqlite3* db = nullptr;
  const int flags = SQLITE_OPEN_READWRITE | (options.create ? SQLITE_OPEN_CREATE : 0) |
                    SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX;  // one thread per connection
  const int rc = sqlite3_open_v2(url.target.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    Status s = SqliteError(db, "open " + url.target);
    sqlite3_close_v2(db);
    return s;
  }
  sqlite3_busy_handler(db, RetryWhileBusy,
                       reinterpret_cast<void*>(static_cast<intptr_t>(options.busy_timeout_ms)));
  if (options.relaxed_sync) {
    // Only under WAL: in rollback-journal mode NORMAL risks corruption.
    SqliteStatement mode;
    if (mode.Prepare(db, "PRAGMA journal_mode").ok() && mode.Step() == SQLITE_ROW &&
        mode.Text(0) == "wal") {
      (void)SqliteExec(db, "PRAGMA synchronous=NORMAL");
    }
  }
  return std::unique_ptr<Store>(std::make_unique<SqliteStore>(db, /*owned=*/true));
}

std::unique_ptr<Store> BorrowSqlite(sqlite3* db) {
  return std::make_unique<SqliteStore>(db, /*owned=*/false);
}

}  // namespace evbus::outbox
