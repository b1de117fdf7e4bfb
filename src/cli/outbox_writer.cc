#include "cli/outbox_writer.h"

#include <libpq-fe.h>
#include <sqlite3.h>

#include <charconv>
#include <cstring>

#include "evbus/outbox.h"
#include "outbox/store.h"

namespace evbus::cli {
namespace {

constexpr int kBusyTimeoutMs = 10'000;

std::string Trimmed(const char* message) {
  std::string s = message != nullptr ? message : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

struct PgResultFree {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResultPtr = std::unique_ptr<PGresult, PgResultFree>;

}  // namespace

Result<std::unique_ptr<OutboxWriter>> OutboxWriter::Open(std::string_view url) {
  Result<outbox::DatabaseUrl> parsed = outbox::ParseDatabaseUrl(url);
  if (!parsed.ok()) return parsed.status();
  if (parsed->kind == outbox::DatabaseUrl::kPostgres) {
    PGconn* conn = PQconnectdb(parsed->target.c_str());
    if (PQstatus(conn) != CONNECTION_OK) {
      Status s(ErrorCode::kUnavailable, "postgresql: connect to " + RedactDatabaseUrl(url) + ": " +
                                            Trimmed(PQerrorMessage(conn)));
      PQfinish(conn);
      return s;
    }
    return std::unique_ptr<OutboxWriter>(new OutboxWriter(nullptr, conn));
  }
  sqlite3* db = nullptr;
  const int rc =
      sqlite3_open_v2(parsed->target.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI, nullptr);
  std::unique_ptr<OutboxWriter> writer(new OutboxWriter(db, nullptr));
  if (rc != SQLITE_OK) return writer->Error("open " + parsed->target);
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  // WAL is refused by in-memory databases ("memory" comes back): they keep
  // the journal they have, which is no error.
  if (sqlite3_exec(db, "PRAGMA journal_mode=WAL", nullptr, nullptr, nullptr) != SQLITE_OK) {
    return writer->Error("PRAGMA journal_mode=WAL on " + parsed->target);
  }
  return writer;
}

OutboxWriter::~OutboxWriter() {
  if (sqlite_ != nullptr) sqlite3_close_v2(sqlite_);
  if (postgres_ != nullptr) PQfinish(postgres_);
}

Status OutboxWriter::Error(std::string_view what) const {
  if (postgres_ != nullptr) {
    return Status(ErrorCode::kUnavailable,
                  "postgresql: " + std::string(what) + ": " + Trimmed(PQerrorMessage(postgres_)));
  }
  return Status(ErrorCode::kUnavailable,
                "sqlite: " + std::string(what) + ": " +
                    (sqlite_ != nullptr ? sqlite3_errmsg(sqlite_) : "out of memory"));
}

Status OutboxWriter::Begin() {
  // SQLite: IMMEDIATE takes the write lock at once, waiting (busy timeout)
  // for the relay's; a deferred BEGIN could fail later without waiting
  // when its read lock cannot be upgraded.
  return Exec(postgres_ != nullptr ? "BEGIN" : "BEGIN IMMEDIATE").status();
}

Status OutboxWriter::Add(std::string_view topic, const Envelope& envelope) {
  return postgres_ != nullptr ? Outbox::Add(postgres_, topic, envelope)
                              : Outbox::Add(sqlite_, topic, envelope);
}

Status OutboxWriter::Commit() {
  if (postgres_ == nullptr) return Exec("COMMIT").status();
  PgResultPtr r(PQexec(postgres_, "COMMIT"));
  if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) return Error("COMMIT");
  // A transaction that failed earlier "commits" as a rollback.
  if (std::strcmp(PQcmdStatus(r.get()), "ROLLBACK") == 0) {
    return Status(ErrorCode::kUnavailable, "postgresql: COMMIT rolled back a failed transaction");
  }
  return Status::Ok();
}

void OutboxWriter::Rollback() { (void)Exec("ROLLBACK"); }

Result<int64_t> OutboxWriter::Exec(const std::string& sql) {
  if (postgres_ != nullptr) {
    PgResultPtr r(PQexec(postgres_, sql.c_str()));
    const ExecStatusType st = PQresultStatus(r.get());
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return Error(sql);
    int64_t changed = 0;
    const char* n = PQcmdTuples(r.get());
    std::from_chars(n, n + std::strlen(n), changed);
    return changed;
  }
  if (sqlite3_exec(sqlite_, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
    return Error(sql);
  }
  return static_cast<int64_t>(sqlite3_changes(sqlite_));
}

Result<int64_t> OutboxWriter::QueryInt(const std::string& sql) {
  if (postgres_ != nullptr) {
    PgResultPtr r(PQexec(postgres_, sql.c_str()));
    if (PQresultStatus(r.get()) != PGRES_TUPLES_OK || PQntuples(r.get()) != 1) return Error(sql);
    int64_t value = 0;
    const char* text = PQgetvalue(r.get(), 0, 0);
    std::from_chars(text, text + std::strlen(text), value);
    return value;
  }
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(sqlite_, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) return Error(sql);
  const bool row = sqlite3_step(st) == SQLITE_ROW;
  const int64_t value = row ? sqlite3_column_int64(st, 0) : 0;
  sqlite3_finalize(st);
  if (!row) return Error(sql);
  return value;
}

std::string RedactDatabaseUrl(std::string_view url) {
  std::string out(url);
  // postgresql://user:password@host: the password sits between the first
  // ':' after the scheme and the '@' that ends the user part.
  const size_t scheme = out.find("://");
  if (scheme != std::string::npos) {
    const size_t user = scheme + 3;
    const size_t at = out.find('@', user);
    const size_t end_of_authority = out.find_first_of("/?", user);
    if (at != std::string::npos && at < end_of_authority) {
      const size_t colon = out.find(':', user);
      if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "***");
    }
  }
  // ...?password=secret&... (libpq's URI parameters).
  for (size_t p = out.find("password="); p != std::string::npos; p = out.find("password=", p + 1)) {
    if (p > 0 && out[p - 1] != '?' && out[p - 1] != '&') continue;
    const size_t value = p + 9;
    const size_t end = out.find('&', value);
    out.replace(value, (end == std::string::npos ? out.size() : end) - value, "***");
  }
  return out;
}

}  // namespace evbus::cli
