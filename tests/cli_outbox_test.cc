// `evbus outbox` and `evbus bench outbox`, run as programs on SQLite files of
// the test's own with the memory transport: exit codes and the messages a
// user reads, rows the relay marks published, SIGTERM, and the bench's
// figures. (On the memory transport what a relay process publishes dies with
// it, so delivery across processes is the library's tests' business.)

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <simdjson.h>
#include <spawn.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "cli_support.h"
#include "evbus/outbox.h"
#include "outbox/store.h"
#include "test_support.h"

namespace evbus::test {
namespace {

// A SQLite database file of the test's own, removed at the end.
class TempDb {
 public:
  TempDb() : path_(::testing::TempDir() + UniqueName("cli-outbox") + ".db") {}
  ~TempDb() {
    for (const char* suffix : {"", "-wal", "-shm", "-journal", "-evbus-relay.lock"}) {
      std::error_code ignored;
      std::filesystem::remove(path_ + suffix, ignored);
    }
  }
  const std::string& path() const { return path_; }
  std::string url() const { return "sqlite:" + path_; }

  // Commits `n` events for `topic` in one transaction, as a service would.
  void AddRows(const std::string& topic, int n) const {
    sqlite3* db = Open();
    ASSERT_OK(Outbox::Migrate(db));
    ASSERT_EQ(sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr), SQLITE_OK);
    for (int i = 0; i < n; ++i) {
      ASSERT_OK(Outbox::Add(
          db, topic,
          NewEnvelope("order-" + std::to_string(i), "OrderPlaced", 1, R"({"total":3})")));
    }
    ASSERT_EQ(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  // Runs `sql` directly, e.g. to make a row dead as a failing relay would.
  void Exec(const std::string& sql) const {
    sqlite3* db = Open();
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK)
        << sql << ": " << sqlite3_errmsg(db);
    sqlite3_close(db);
  }

 private:
  sqlite3* Open() const {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 10'000);
    return db;
  }
  std::string path_;
};

// `outbox status --json`, parsed.
struct StatusJson {
  int64_t schema_version = -1, pending = -1, dead = -1, published_kept = -1;
};
StatusJson ReadStatus(const TempDb& db) {
  CliRun r = RunCli("outbox status --json --db " + db.url());
  EXPECT_EQ(r.code, 0) << r.out;
  StatusJson s;
  simdjson::ondemand::parser parser;
  simdjson::padded_string json(r.out);
  simdjson::ondemand::document doc = parser.iterate(json);
  EXPECT_EQ(doc["schema_version"].get(s.schema_version), simdjson::SUCCESS) << r.out;
  EXPECT_EQ(doc["pending"].get(s.pending), simdjson::SUCCESS) << r.out;
  EXPECT_EQ(doc["dead"].get(s.dead), simdjson::SUCCESS) << r.out;
  EXPECT_EQ(doc["published_kept"].get(s.published_kept), simdjson::SUCCESS) << r.out;
  return s;
}

// A relay running as a child process, its stdout and stderr read through a pipe.
class RelayProcess {
 public:
  explicit RelayProcess(const std::vector<std::string>& args) {
    int fds[2];
    EXPECT_EQ(pipe2(fds, O_CLOEXEC), 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
    std::vector<std::string> all = {EVBUS_CLI_PATH};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    EXPECT_EQ(posix_spawn(&pid_, EVBUS_CLI_PATH, &actions, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    out_fd_ = fds[0];
  }
  ~RelayProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    close(out_fd_);
  }

  // Reads the output until it matches `pattern` (true), or the process
  // closed it, or 30 s passed (false).
  bool ReadUntil(const std::regex& pattern) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!std::regex_search(out_, pattern)) {
      if (!ReadMore(deadline)) return false;
    }
    return true;
  }
  // Sends `sig`, reads the rest of the output, and returns the exit code
  // (-1 if ended by a signal).
  int Stop(int sig) {
    kill(pid_, sig);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (ReadMore(deadline)) {
    }
    int status = 0;
    const pid_t done = waitpid(pid_, &status, 0);
    pid_ = -1;
    return done > 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  const std::string& out() const { return out_; }

 private:
  // Appends what the process wrote next; false once it closed its output
  // or `deadline` passed.
  bool ReadMore(std::chrono::steady_clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{out_fd_, POLLIN, 0};
    if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char buf[4096];
    const ssize_t n = read(out_fd_, buf, sizeof(buf));
    if (n <= 0) return false;
    out_.append(buf, static_cast<size_t>(n));
    return true;
  }

  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string out_;
};

TEST(CliOutbox, EveryCommandHasHelpWithExamples) {
  for (const char* command :
       {"outbox", "outbox migrate", "outbox status", "outbox retry", "outbox relay"}) {
    CliRun r = RunCli(std::string(command) + " --help");
    EXPECT_EQ(r.code, 0) << command;
    EXPECT_NE(r.out.find("Examples:"), std::string::npos) << command << "\n" << r.out;
  }
  CliRun r = RunCli("outbox");  // a group: one of its commands is required
  EXPECT_EQ(r.code, 2) << r.out;
}

TEST(CliOutbox, MigrateThenStatusShowsTheSchemaAndNothingPending) {
  TempDb db;
  CliRun migrate = RunCli("outbox migrate --db " + db.url());
  ASSERT_EQ(migrate.code, 0) << migrate.out;
  EXPECT_EQ(migrate.out, "schema version " + std::to_string(kOutboxSchemaVersion) + "\n");
  CliRun again = RunCli("outbox migrate --db " + db.url());  // idempotent
  EXPECT_EQ(again.code, 0) << again.out;

  CliRun text = RunCli("outbox status --db " + db.url());
  ASSERT_EQ(text.code, 0) << text.out;
  EXPECT_TRUE(std::regex_search(text.out, std::regex("schema +2\n"))) << text.out;
  EXPECT_TRUE(std::regex_search(text.out, std::regex("pending +0\n"))) << text.out;
  EXPECT_TRUE(std::regex_search(text.out, std::regex("dead +0\n"))) << text.out;
  EXPECT_TRUE(std::regex_search(text.out, std::regex("oldest pending +-\n"))) << text.out;

  const StatusJson s = ReadStatus(db);
  EXPECT_EQ(s.schema_version, kOutboxSchemaVersion);
  EXPECT_EQ(s.pending, 0);
  EXPECT_EQ(s.dead, 0);
  EXPECT_EQ(s.published_kept, 0);
}

TEST(CliOutbox, StatusCountsPendingRowsAndTheirAge) {
  TempDb db;
  db.AddRows("orders", 3);
  CliRun text = RunCli("outbox status --db " + db.url());
  ASSERT_EQ(text.code, 0) << text.out;
  EXPECT_TRUE(std::regex_search(text.out, std::regex("pending +3\n"))) << text.out;
  EXPECT_TRUE(std::regex_search(text.out, std::regex("oldest pending +[0-9]+\\.[0-9] s\n")))
      << text.out;
  CliRun json = RunCli("outbox status --json --db " + db.url());
  EXPECT_TRUE(std::regex_search(json.out, std::regex("\"oldest_pending_s\":[0-9]+\\.[0-9]+")))
      << json.out;
}

TEST(CliOutbox, StatusWithoutEvbusTablesExits1AndSaysToMigrate) {
  TempDb db;
  db.Exec("CREATE TABLE orders (id INTEGER)");  // the service's own table only
  CliRun r = RunCli("outbox status --db " + db.url());
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("no evbus tables (run evbus outbox migrate)"), std::string::npos) << r.out;
}

TEST(CliOutbox, BadDatabaseUrlsAreNamedAndTheirPasswordsHidden) {
  CliRun scheme = RunCli("outbox status --db mysql://orders");
  EXPECT_EQ(scheme.code, 2) << scheme.out;  // not a URL evbus takes: usage
  EXPECT_NE(scheme.out.find("--db mysql://orders"), std::string::npos) << scheme.out;

  CliRun missing_dir = RunCli("outbox status --db sqlite:/nonexistent-evbus-dir/orders.db");
  EXPECT_EQ(missing_dir.code, 1) << missing_dir.out;
  EXPECT_NE(missing_dir.out.find("/nonexistent-evbus-dir/orders.db"), std::string::npos)
      << missing_dir.out;

  // Port 1 on the loopback refuses at once.
  CliRun refused = RunCli("outbox status --db postgresql://app:hunter2@127.0.0.1:1/orders");
  EXPECT_EQ(refused.code, 1) << refused.out;
  EXPECT_NE(refused.out.find("postgresql://app:***@127.0.0.1:1/orders"), std::string::npos)
      << refused.out;
  EXPECT_EQ(refused.out.find("hunter2"), std::string::npos) << refused.out;
}

TEST(CliOutbox, RetryOfARowThatIsNotDeadExits1NamingIt) {
  TempDb db;
  db.AddRows("orders", 1);  // row 1 exists, pending
  for (const char* id : {"1", "4242"}) {
    CliRun r = RunCli("outbox retry --db " + db.url() + " --id " + id);
    EXPECT_EQ(r.code, 1) << r.out;
    EXPECT_NE(r.out.find("outbox row " + std::string(id) + " is not dead"), std::string::npos)
        << r.out;
  }
}

TEST(CliOutbox, RetryPutsDeadRowsBackToPending) {
  TempDb db;
  db.AddRows("orders", 3);
  // As a relay leaves a row that failed too often.
  db.Exec("UPDATE evbus_outbox SET state = " + std::to_string(outbox::kStateDead) +
          ", attempts = 10, last_error = 'Unavailable: broker down' WHERE id IN (2, 3)");
  StatusJson before = ReadStatus(db);
  EXPECT_EQ(before.pending, 1);
  EXPECT_EQ(before.dead, 2);
  CliRun text = RunCli("outbox status --db " + db.url());
  EXPECT_NE(text.out.find("evbus outbox retry"), std::string::npos) << text.out;  // the way out

  CliRun one = RunCli("outbox retry --db " + db.url() + " --id 2");
  EXPECT_EQ(one.code, 0) << one.out;
  EXPECT_EQ(one.out, "1 dead row(s) back to pending\n");
  CliRun rest = RunCli("outbox retry --db " + db.url());
  EXPECT_EQ(rest.code, 0) << rest.out;
  EXPECT_EQ(rest.out, "1 dead row(s) back to pending\n");
  StatusJson after = ReadStatus(db);
  EXPECT_EQ(after.pending, 3);
  EXPECT_EQ(after.dead, 0);
}

TEST(CliOutbox, RelayPublishesPendingRowsAndExitsWhenEmpty) {
  TempDb db;
  db.AddRows("orders", 3);
  CliRun r = RunCli("outbox relay --transport memory --exit-when-empty --db " + db.url());
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("relay: published 3 row(s)"), std::string::npos) << r.out;
  const StatusJson s = ReadStatus(db);
  EXPECT_EQ(s.pending, 0);
  EXPECT_EQ(s.published_kept, 3);  // kept for the retention (default a day)
}

TEST(CliOutbox, RelayStopsOnSigtermAndOneSqliteDatabaseTakesOneRelay) {
  TempDb db;
  db.AddRows("orders", 2);
  RelayProcess relay({"outbox", "relay", "--transport", "memory", "--db", db.url()});
  ASSERT_TRUE(relay.ReadUntil(std::regex("published 2,"))) << relay.out();

  CliRun second = RunCli("outbox relay --transport memory --db " + db.url());
  EXPECT_EQ(second.code, 1) << second.out;
  EXPECT_NE(second.out.find("another relay already serves"), std::string::npos) << second.out;

  EXPECT_EQ(relay.Stop(SIGTERM), 0) << relay.out();
  EXPECT_NE(relay.out().find("relay: published 2 row(s) (stopped: SIGTERM)"), std::string::npos)
      << relay.out();
  EXPECT_EQ(ReadStatus(db).pending, 0);
}

TEST(CliOutbox, BenchOnMemoryPrintsEveryPathAndTheRatioAndRemovesItsFile) {
  TempDb db;
  CliRun r = RunCli("bench outbox --transport memory --db " + db.url() + " --events 2000");
  ASSERT_EQ(r.code, 0) << r.out;
  // Each row: its name, then the events that arrived, then msg/s.
  for (const char* row : {"direct \\(latency publish->ack\\)", "outbox drain \\(commit->ack\\)",
                          "outbox live \\(commit->handler\\)"}) {
    EXPECT_TRUE(std::regex_search(r.out, std::regex(std::string(row) + " +2000 +[0-9]+ ")))
        << row << "\n"
        << r.out;
  }
  std::smatch ratio;
  ASSERT_TRUE(std::regex_search(r.out, ratio, std::regex("outbox / direct: ([0-9.]+)x"))) << r.out;
  EXPECT_GT(std::stod(ratio[1]), 0.0) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("commit -> handler at [0-9]+ rows/s: p50 [0-9.]+ "
                                                  "ms, p99 [0-9.]+ ms, p99.9 [0-9.]+ ms, max "
                                                  "[0-9.]+ ms")))
      << r.out;
  EXPECT_FALSE(std::filesystem::exists(db.path())) << "the bench created it, so removes it";
}

TEST(CliOutbox, BenchLeavesADatabaseWithOtherPendingRowsAlone) {
  TempDb db;
  db.AddRows("orders", 1);  // the service's: the bench's relay must not publish it
  CliRun r = RunCli("bench outbox --transport memory --db " + db.url() + " --events 100");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("holds 1 pending and 0 dead row(s) of other topics"), std::string::npos)
      << r.out;
  EXPECT_EQ(ReadStatus(db).pending, 1);
}

TEST(CliOutbox, BenchOutboxNeedsADatabaseAndOnlyItTakesOne) {
  CliRun no_db = RunCli("bench outbox --transport memory");
  EXPECT_EQ(no_db.code, 2) << no_db.out;
  EXPECT_NE(no_db.out.find("--db"), std::string::npos) << no_db.out;
  CliRun other = RunCli("bench seed --db sqlite:/tmp/x.db");
  EXPECT_EQ(other.code, 2) << other.out;
  EXPECT_NE(other.out.find("only apply to bench outbox"), std::string::npos) << other.out;
}

}  // namespace
}  // namespace evbus::test
