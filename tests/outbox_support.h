// What the outbox and inbox tests share: a database of the test's own (a
// SQLite file, or a PostgreSQL schema on the server scripts/postgres runs),
// and the application's own connection to it.

#ifndef EVBUS_TESTS_OUTBOX_SUPPORT_H_
#define EVBUS_TESTS_OUTBOX_SUPPORT_H_

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "evbus/outbox.h"
#include "test_support.h"

namespace evbus::test {

inline std::string PostgresBaseUrl() {
  const char* env = std::getenv("EVBUS_TEST_POSTGRES_URL");
  return env != nullptr ? env : "postgresql://evbus@127.0.0.1:15432/evbus";
}

// Empty when the server answers; in CI a missing server fails instead of skipping.
inline std::string PostgresUnavailable() {
  PGconn* c = PQconnectdb(PostgresBaseUrl().c_str());
  const bool up = PQstatus(c) == CONNECTION_OK;
  PQfinish(c);
  if (up) return "";
  const char* ci = std::getenv("CI");
  if (ci != nullptr && std::string(ci) == "true") return "";  // fail loudly in CI
  return "no PostgreSQL at " + PostgresBaseUrl() + " (run scripts/postgres up)";
}

// A database private to one test: a SQLite file in the temp directory, or a
// fresh schema (first on the search_path) on the test server. Removed at the end.
class TestDatabase {
 public:
  explicit TestDatabase(const std::string& kind) : kind_(kind) {
    const std::string name = UniqueName("db");
    if (kind == "sqlite") {
      path_ = (std::filesystem::temp_directory_path() / (name + ".db")).string();
      url_ = "sqlite:" + path_;
      return;
    }
    schema_ = "t_" + std::to_string(::getpid()) + "_" + std::to_string(counter()++);
    Admin("CREATE SCHEMA " + schema_);
    const std::string base = PostgresBaseUrl();
    url_ = base + (base.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" +
           schema_;
  }
  ~TestDatabase() {
    if (!path_.empty()) {
      for (const char* suffix : {"", "-wal", "-shm", "-journal", "-evbus-relay.lock"}) {
        std::error_code ec;
        std::filesystem::remove(path_ + suffix, ec);
      }
    } else {
      Admin("DROP SCHEMA " + schema_ + " CASCADE");
    }
  }
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  const std::string& url() const { return url_; }
  bool postgres() const { return kind_ == "postgres"; }

 private:
  static int& counter() {
    static int n = 0;
    return n;
  }
  static void Admin(const std::string& sql) {
    PGconn* c = PQconnectdb(PostgresBaseUrl().c_str());
    PQsetNoticeProcessor(
        c, [](void*, const char*) {}, nullptr);  // "drop cascades to ..."
    PGresult* r = PQexec(c, sql.c_str());
    EXPECT_EQ(PQresultStatus(r), PGRES_COMMAND_OK) << sql << ": " << PQerrorMessage(c);
    PQclear(r);
    PQfinish(c);
  }

  std::string kind_, url_, path_, schema_;
};

// The application's own connection: where it begins, adds and commits.
class AppConnection {
 public:
  explicit AppConnection(const TestDatabase& db) {
    if (db.postgres()) {
      pg_ = PQconnectdb(db.url().c_str());
      EXPECT_EQ(PQstatus(pg_), CONNECTION_OK) << PQerrorMessage(pg_);
      PQsetNoticeProcessor(
          pg_, [](void*, const char*) {}, nullptr);
    } else {
      EXPECT_EQ(sqlite3_open(db.url().substr(7).c_str(), &sqlite_), SQLITE_OK);
      sqlite3_busy_timeout(sqlite_, 10000);
      Exec("PRAGMA journal_mode=WAL");
    }
  }
  ~AppConnection() {
    if (pg_ != nullptr) PQfinish(pg_);
    if (sqlite_ != nullptr) sqlite3_close_v2(sqlite_);
  }
  AppConnection(const AppConnection&) = delete;
  AppConnection& operator=(const AppConnection&) = delete;

  Status Migrate() { return pg_ != nullptr ? Outbox::Migrate(pg_) : Outbox::Migrate(sqlite_); }
  Status Add(const std::string& topic, const Envelope& e) {
    return pg_ != nullptr ? Outbox::Add(pg_, topic, e) : Outbox::Add(sqlite_, topic, e);
  }
  void Exec(const std::string& sql) { ExecOn(Transaction{sqlite_, pg_}, sql); }
  int64_t QueryInt(const std::string& sql) { return QueryIntOn(Transaction{sqlite_, pg_}, sql); }

  // Statements on a connection (the app's, or an inbox handler's transaction).
  static void ExecOn(const Transaction& tx, const std::string& sql) {
    if (tx.postgres != nullptr) {
      PGresult* r = PQexec(tx.postgres, sql.c_str());
      const ExecStatusType st = PQresultStatus(r);
      EXPECT_TRUE(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
          << sql << ": " << PQerrorMessage(tx.postgres);
      PQclear(r);
    } else {
      char* err = nullptr;
      EXPECT_EQ(sqlite3_exec(tx.sqlite, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK)
          << sql << ": " << (err ? err : "");
      sqlite3_free(err);
    }
  }
  static int64_t QueryIntOn(const Transaction& tx, const std::string& sql) {
    int64_t v = -1;
    if (tx.postgres != nullptr) {
      PGresult* r = PQexec(tx.postgres, sql.c_str());
      if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        v = std::stoll(PQgetvalue(r, 0, 0));
      } else {
        ADD_FAILURE() << sql << ": " << PQerrorMessage(tx.postgres);
      }
      PQclear(r);
    } else {
      sqlite3_stmt* st = nullptr;
      sqlite3_prepare_v2(tx.sqlite, sql.c_str(), -1, &st, nullptr);
      if (st != nullptr && sqlite3_step(st) == SQLITE_ROW) {
        v = sqlite3_column_int64(st, 0);
      } else {
        ADD_FAILURE() << sql << ": " << sqlite3_errmsg(tx.sqlite);
      }
      sqlite3_finalize(st);
    }
    return v;
  }

  sqlite3* sqlite() { return sqlite_; }
  PGconn* postgres() { return pg_; }

 private:
  sqlite3* sqlite_ = nullptr;
  PGconn* pg_ = nullptr;
};

// Fixture of the tests parameterised by database ("sqlite", "postgres"): a
// database of the test's own and the application's connection to it,
// PostgreSQL skipped when its server is missing (never in CI), T1 checked.
class DatabaseTest : public BusTest, public ::testing::WithParamInterface<std::string> {
 protected:
  void SetUp() override {
    BusTest::SetUp();
    if (GetParam() == "postgres") {
      if (std::string why = PostgresUnavailable(); !why.empty()) GTEST_SKIP() << why;
    }
    db_ = std::make_unique<TestDatabase>(GetParam());
    app_ = std::make_unique<AppConnection>(*db_);
  }
  void TearDown() override {
    if (!db_) return;
    ExpectThreadsAtBaseline();
    app_.reset();
    db_.reset();
  }

  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<AppConnection> app_;
};

}  // namespace evbus::test

#endif  // EVBUS_TESTS_OUTBOX_SUPPORT_H_
