// evbus outbox relay: publishes a database's pending outbox rows through a
// bus until SIGINT or SIGTERM (or, with --exit-when-empty, until nothing is
// left), with a progress line on stderr each second something moves.
//
// Killing it (even with SIGKILL) loses nothing: a row is marked published
// only after the broker acknowledged it, so a row in flight at the kill is
// published again by the next relay (a duplicate, which Inbox absorbs).

#include <signal.h>

#include <cstdio>

#include "cli/config_flags.h"
#include "cli/outbox_commands.h"
#include "evbus/event_bus.h"
#include "evbus/outbox.h"

namespace evbus::cli {
namespace {

struct RelayOptions {
  ConnectionFlags connection;
  std::string db;
  int batch = 1000;
  int poll_ms = 20;
  int64_t retention_s = 24 * 3600;
  bool exit_when_empty = false;
};

// SIGINT and SIGTERM, blocked in every thread from construction on and
// taken by the main thread with sigtimedwait: no handler, no flag, and no
// thread of the bus or the relay (all started later, so inheriting the
// mask) can be the one a signal interrupts. Construct before any thread.
class StopSignals {
 public:
  StopSignals() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set_, &previous_);
  }
  // Signals that arrived while closing are dropped, not delivered with the
  // old mask: they asked for the stop that has just happened.
  ~StopSignals() {
    const timespec zero{};
    while (sigtimedwait(&set_, nullptr, &zero) > 0) {
    }
    pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  // The signal that arrived within `timeout`, or 0.
  int Wait(std::chrono::milliseconds timeout) {
    const timespec ts{static_cast<time_t>(timeout.count() / 1000),
                      static_cast<long>(timeout.count() % 1000) * 1'000'000};
    const int sig = sigtimedwait(&set_, nullptr, &ts);
    return sig > 0 ? sig : 0;  // -1: EAGAIN (timeout) or EINTR
  }

 private:
  sigset_t set_{}, previous_{};
};

std::string ProgressLine(const OutboxRelayStats& s) {
  char line[256];
  std::snprintf(line, sizeof(line), "published %llu, pending %lld, dead %lld",
                static_cast<unsigned long long>(s.published),
                static_cast<long long>(s.pending_rows), static_cast<long long>(s.dead_rows));
  std::string out = line;
  if (s.pending_rows > 0) {
    std::snprintf(line, sizeof(line), ", oldest pending %.1f s",
                  static_cast<double>(s.oldest_pending_age.count()) / 1000.0);
    out += line;
  }
  if (!s.last_error.empty()) out += ", last error " + s.last_error;
  return out;
}

// --exit-when-empty: the relay's row counts are a sample up to a second
// old, so "empty" is believed only when two samples in a row saw nothing
// pending and nothing published, and the database itself then agrees.
class EmptyCheck {
 public:
  bool Empty(const OutboxRelayStats& s, const std::string& db) {
    const bool quiet = s.pending_rows == 0 && s.published == last_published_;
    const bool was_quiet = quiet_;
    quiet_ = quiet;
    last_published_ = s.published;
    if (!quiet || !was_quiet) return false;
    Result<OutboxStatus> now = ReadOutboxStatus(db);
    return now.ok() && now->pending == 0;
  }

 private:
  bool quiet_ = false;
  uint64_t last_published_ = 0;
};

int Run(const RelayOptions& o) {
  Config config;
  if (!LoadOrPrint(o.connection, "outbox relay", config)) return kExitUsage;
  NoteIfMemoryBrokerIsPrivate("outbox relay", config);
  StopSignals signals;
  // A publish-only bus: Create connects the producer; Start is for consuming.
  Result<std::unique_ptr<EventBus>> bus = EventBus::Create(config);
  if (!bus.ok()) {
    std::fprintf(stderr, "evbus outbox relay: %s\n", bus.status().ToString().c_str());
    return kExitRuntime;
  }
  OutboxRelayOptions options;
  options.database = o.db;
  options.batch_size = o.batch;
  options.poll_interval = std::chrono::milliseconds(o.poll_ms);
  options.retention = std::chrono::seconds(o.retention_s);
  Result<std::unique_ptr<OutboxRelay>> relay = OutboxRelay::Start(**bus, options);
  if (!relay.ok()) {
    (void)(*bus)->Close();
    return PrintOutboxError("relay", o.db, relay.status());
  }
  std::fprintf(stderr, "evbus outbox relay: publishing %s through %s (Ctrl-C or SIGTERM stops)\n",
               RedactDatabaseUrl(o.db).c_str(), std::string(ToString(config.transport)).c_str());
  // A line each second while something changes; when idle, one every 30 s
  // says the relay is alive without filling a log.
  std::string last_line;
  int idle_seconds = 0;
  EmptyCheck empty;
  const char* stopped_by = nullptr;
  bool signalled = false;
  for (;;) {
    if (const int sig = signals.Wait(std::chrono::seconds(1)); sig != 0) {
      stopped_by = sig == SIGINT ? "SIGINT" : "SIGTERM";
      signalled = true;
      break;
    }
    const OutboxRelayStats stats = (*relay)->stats();
    const std::string line = ProgressLine(stats);
    if (line != last_line || ++idle_seconds >= 30) {
      std::fprintf(stderr, "evbus outbox relay: %s\n", line.c_str());
      last_line = line;
      idle_seconds = 0;
    }
    if (o.exit_when_empty && empty.Empty(stats, o.db)) {
      stopped_by = "nothing pending";
      break;
    }
  }
  // The relay first: it waits for the acknowledgements of its last round
  // and marks those rows, which needs the bus still open. With the broker
  // down that wait lasts up to the transport's delivery timeout: say why
  // nothing happens.
  if (signalled) {
    std::fprintf(stderr, "evbus outbox relay: %s: stopping once the round in flight is answered\n",
                 stopped_by);
  }
  (*relay)->Close();
  const OutboxRelayStats stats = (*relay)->stats();
  Result<CloseReport> closed = (*bus)->Close();
  std::fprintf(stderr, "evbus outbox relay: published %llu row(s) (stopped: %s)\n",
               static_cast<unsigned long long>(stats.published), stopped_by);
  if (!closed.ok()) {
    std::fprintf(stderr, "evbus outbox relay: %s\n", closed.status().ToString().c_str());
    return kExitRuntime;
  }
  if (o.exit_when_empty && stats.dead_rows > 0) {
    std::fprintf(stderr,
                 "evbus outbox relay: %lld dead row(s) left, holding back their aggregates "
                 "(evbus outbox status; evbus outbox retry)\n",
                 static_cast<long long>(stats.dead_rows));
    return kExitRuntime;
  }
  return kExitOk;
}

}  // namespace

void AddOutboxRelay(CLI::App& outbox, Action& run) {
  auto o = std::make_shared<RelayOptions>();
  CLI::App* cmd = outbox.add_subcommand(
      "relay",
      "Publish the database's pending outbox rows through the transport, each aggregate's in "
      "order, marking each published once the broker acknowledged it; retry failures with "
      "backoff and mark a row dead after too many. Runs until SIGINT or SIGTERM (or, with "
      "--exit-when-empty, until nothing is pending), printing progress on stderr. One relay per "
      "SQLite database; on PostgreSQL several share the rows. Exit code 1 when the relay cannot "
      "start, or --exit-when-empty leaves dead rows.");
  cmd->footer(
      "Examples:\n"
      "  evbus outbox relay --db sqlite:orders.db --brokers 127.0.0.1:9092\n"
      "  evbus outbox relay --db postgresql://app@127.0.0.1:5432/orders --url "
      "nats://127.0.0.1:4222\n"
      "  evbus outbox relay --db sqlite:orders.db --config kafka.yaml --exit-when-empty\n"
      "On the memory transport the broker lives in the process: what the relay publishes dies "
      "with it.");
  cmd->add_option("--db", o->db, "Database URL: sqlite:PATH or postgresql://...")->required();
  cmd->add_option("--batch", o->batch,
                  "Rows claimed per round (an aggregate's rows go one after another)")
      ->capture_default_str()
      ->check(CLI::Range(1, 100'000));
  cmd->add_option("--poll-ms", o->poll_ms,
                  "When nothing is pending, how long to wait between looks")
      ->capture_default_str()
      ->check(CLI::Range(1, 3'600'000));
  cmd->add_option("--retention-s", o->retention_s,
                  "Delete published rows older than this many seconds (0: at once)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{10} * 365 * 24 * 3600));
  cmd->add_flag("--exit-when-empty", o->exit_when_empty,
                "Stop once nothing is pending (two quiet 1 s samples, confirmed by the database)");
  o->connection.Add(cmd);
  cmd->callback([&run, o] { run = [o] { return Run(*o); }; });
}

}  // namespace evbus::cli
