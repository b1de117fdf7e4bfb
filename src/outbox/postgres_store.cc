// Store on PostgreSQL. Several relays may share one database: a claim is a
// transaction that locks its head rows (FOR UPDATE SKIP LOCKED) until they
// are settled, so other relays skip them, and an aggregate's later rows are
// not heads while an earlier one is unpublished. A relay that dies loses its
// connection, and the server releases its claim at once.

#include <libpq-fe.h>

#include <memory>
#include <string>

#include "outbox/pg_util.h"
#include "outbox/schema.h"
#include "outbox/store.h"

namespace evbus::outbox {
namespace {

// Serializes concurrent Migrate() calls (pg_advisory_xact_lock's key).
constexpr int64_t kMigrateLockKey = 0x65766275'736f7574;  // "evbusout"

class PostgresStore final : public Store {
 public:
  PostgresStore(PGconn* conn, bool owned) : conn_(conn), owned_(owned) {}
  ~PostgresStore() override {
    if (owned_) PQfinish(conn_);
  }

  Status Migrate(int up_to) override {
    if (PQtransactionStatus(conn_) != PQTRANS_IDLE) {
      return FailedPrecondition("Outbox::Migrate: a transaction is open on this connection");
    }
    if (Status s = PgExecScript(conn_, "BEGIN"); !s.ok()) return s;
    Status s = MigrateLocked(up_to);
    if (Status end = PgExecScript(conn_, s.ok() ? "COMMIT" : "ROLLBACK"); s.ok()) {
      s = std::move(end);
    }
    return s;
  }

  Status Claim(int limit, int64_t now_us, std::vector<OutboxRow>& out) override {
    out.clear();
    if (Status s = PgExecScript(conn_, "BEGIN"); !s.ok()) return s;
    static const std::string kClaim = std::string(kClaimRows) + " FOR UPDATE OF o SKIP LOCKED";
    Result<PgResult> r =
        PgExec(conn_, kClaim, {PgParam::Int(now_us), PgParam::Int(limit)}, /*binary_results=*/true);
    if (!r.ok()) {
      Abandon();
      return r.status();
    }
    const PGresult* res = r->get();
    for (int i = 0, n = PQntuples(res); i < n; ++i) {
      OutboxRow& row = out.emplace_back();
      row.id = PgInt64(res, i, 0);
      row.topic = PgBytes(res, i, 1);
      row.envelope = PgBytes(res, i, 2);
      row.attempts = PgInt32(res, i, 3);
      row.aggregate_id = PgBytes(res, i, 4);
      row.head_id = PgInt64(res, i, 5);
    }
    if (out.empty()) return PgExecScript(conn_, "COMMIT");
    return Status::Ok();
  }

  Status Settle(std::span<const RowOutcome> outcomes, int64_t now_us) override {
    // The acknowledged rows in one statement: a round trip per row would
    // cost more than the publishing.
    std::string ids = "{";
    for (const RowOutcome& o : outcomes) {
      if (o.kind != RowOutcome::kAcked) continue;
      if (ids.size() > 1) ids += ',';
      ids += std::to_string(o.id);
    }
    ids += '}';
    Status s;
    if (ids.size() > 2) {
      Result<PgResult> r = PgExec(conn_,
                                  "UPDATE evbus_outbox SET state = 1, published_us = $2,"
                                  " last_error = NULL WHERE id = ANY($1::bigint[])",
                                  {PgParam::Text(ids), PgParam::Int(now_us)});
      s = r.status();
    }
    for (const RowOutcome& o : outcomes) {
      if (!s.ok()) break;
      if (o.kind != RowOutcome::kRetry && o.kind != RowOutcome::kDead) continue;
      s = PgExec(
              conn_, kMarkFailed,
              {PgParam::Int(o.id),
               PgParam::Int(o.kind == RowOutcome::kDead ? kStateDead : kStatePending),
               PgParam::Int(o.attempts), PgParam::Int(o.next_attempt_us), PgParam::Text(o.error)})
              .status();
    }
    if (!s.ok()) {
      Abandon();
      return s;
    }
    return PgExecScript(conn_, "COMMIT");
  }

  void Abandon() override {
    if (PQtransactionStatus(conn_) != PQTRANS_IDLE) (void)PgExecScript(conn_, "ROLLBACK");
  }

  Result<int64_t> DeletePublished(int64_t before_us, int limit) override {
    Result<PgResult> r =
        PgExec(conn_, kDeletePublished, {PgParam::Int(before_us), PgParam::Int(limit)});
    if (!r.ok()) return r.status();
    return Affected(r->get());
  }

  Result<OutboxStatus> ReadStatus(int64_t now_us) override {
    OutboxStatus status;
    Result<PgResult> r = PgExec(conn_, "SELECT to_regclass('evbus_schema') IS NOT NULL");
    if (!r.ok()) return r.status();
    if (std::string_view(PQgetvalue(r->get(), 0, 0)) != "t") return status;
    if (r = PgExec(conn_, "SELECT version FROM evbus_schema"); !r.ok()) return r.status();
    status.schema_version = PQntuples(r->get()) == 0 ? 0 : std::stoi(PQgetvalue(r->get(), 0, 0));
    if (status.schema_version == 0) return status;
    if (r = PgExec(conn_, kSelectStatus); !r.ok()) return r.status();
    const PGresult* res = r->get();
    status.pending = std::stoll(PQgetvalue(res, 0, 0));
    status.dead = std::stoll(PQgetvalue(res, 0, 1));
    status.published = std::stoll(PQgetvalue(res, 0, 2));
    if (!PQgetisnull(res, 0, 3)) {
      status.oldest_pending_age =
          std::chrono::milliseconds((now_us - std::stoll(PQgetvalue(res, 0, 3))) / 1000);
    }
    return status;
  }

  Result<int64_t> RetryDead(std::optional<int64_t> id) override {
    Result<PgResult> r =
        id ? PgExec(conn_, kRetryOneDead, {PgParam::Int(*id)}) : PgExec(conn_, kRetryAllDead);
    if (!r.ok()) return r.status();
    return Affected(r->get());
  }

  Result<bool> BeginInbox(std::string_view group, std::string_view key, int64_t now_us) override {
    if (Status s = PgExecScript(conn_, "BEGIN"); !s.ok()) return s;
    // A concurrent transaction recording the same key makes this one wait
    // for it, then see the conflict: the handler runs once either way.
    Result<PgResult> r = PgExec(conn_, kInsertInboxKey,
                                {PgParam::Text(group), PgParam::Text(key), PgParam::Int(now_us)});
    if (!r.ok()) {
      Rollback();
      return r.status();
    }
    if (Affected(r->get()) == 0) {
      Rollback();
      return false;
    }
    return true;
  }

  Status Commit() override {
    Status s = PgExecScript(conn_, "COMMIT");
    if (!s.ok()) Rollback();
    return s;
  }

  void Rollback() override {
    if (PQtransactionStatus(conn_) != PQTRANS_IDLE) (void)PgExecScript(conn_, "ROLLBACK");
  }

  Result<int64_t> PurgeInbox(int64_t before_us) override {
    Result<PgResult> r = PgExec(conn_, kPurgeInbox, {PgParam::Int(before_us)});
    if (!r.ok()) return r.status();
    return Affected(r->get());
  }

  Transaction transaction() override { return {.postgres = conn_}; }
  bool healthy() const override { return PQstatus(conn_) == CONNECTION_OK; }

 private:
  static int64_t Affected(const PGresult* r) {
    const char* n = PQcmdTuples(const_cast<PGresult*>(r));
    return *n == '\0' ? 0 : std::stoll(n);
  }

  Status MigrateLocked(int up_to) {
    Result<PgResult> r =
        PgExec(conn_, "SELECT pg_advisory_xact_lock($1)", {PgParam::Int(kMigrateLockKey)});
    if (!r.ok()) return r.status();
    // Checked, not CREATE ... IF NOT EXISTS: that would send the caller's
    // connection a notice on every start.
    if (r = PgExec(conn_, "SELECT to_regclass('evbus_schema') IS NULL"); !r.ok()) return r.status();
    Status s;
    if (std::string_view(PQgetvalue(r->get(), 0, 0)) == "t") {
      s = PgExecScript(conn_, "CREATE TABLE evbus_schema (version INTEGER NOT NULL)");
      if (!s.ok()) return s;
    }
    if (r = PgExec(conn_, "SELECT version FROM evbus_schema"); !r.ok()) return r.status();
    const bool has_row = PQntuples(r->get()) > 0;
    const int version = has_row ? std::stoi(PQgetvalue(r->get(), 0, 0)) : 0;
    if (version > kOutboxSchemaVersion) {
      return FailedPrecondition("evbus_schema: version " + std::to_string(version) +
                                " is newer than this evbus knows (" +
                                std::to_string(kOutboxSchemaVersion) + ")");
    }
    if (version >= up_to) return Status::Ok();
    for (int v = version + 1; v <= up_to; ++v) {
      if (s = PgExecScript(conn_, kPostgresSteps[v - 1]); !s.ok()) return s;
    }
    return PgExec(conn_,
                  has_row ? "UPDATE evbus_schema SET version = $1"
                          : "INSERT INTO evbus_schema (version) VALUES ($1)",
                  {PgParam::Int(up_to)})
        .status();
  }

  PGconn* conn_;
  bool owned_;
};

}  // namespace

Result<std::unique_ptr<Store>> OpenPostgresStore(const DatabaseUrl& url, StoreOptions) {
  PGconn* conn = PQconnectdb(url.target.c_str());
  if (conn == nullptr || PQstatus(conn) != CONNECTION_OK) {
    Status s = PgError(conn, nullptr, "connect");
    PQfinish(conn);
    return s;
  }
  // Notices (e.g. "relation already exists, skipping") are not for stderr.
  PQsetNoticeProcessor(
      conn, [](void*, const char*) {}, nullptr);
  return std::unique_ptr<Store>(std::make_unique<PostgresStore>(conn, /*owned=*/true));
}

std::unique_ptr<Store> BorrowPostgres(pg_conn* db) {
  return std::make_unique<PostgresStore>(db, /*owned=*/false);
}

}  // namespace evbus::outbox
