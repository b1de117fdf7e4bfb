// evbus outbox: the transactional outbox's tables, from outside the service
// that writes them. migrate creates or upgrades them, status counts what is
// waiting, retry puts dead rows back, relay (cmd_outbox_relay.cc) publishes.

#include <cstdio>
#include <optional>

#include "cli/json_text.h"
#include "cli/outbox_commands.h"
#include "evbus/outbox.h"

namespace evbus::cli {
namespace {

struct OutboxOptions {
  std::string db;
  bool json = false;
  int64_t id = 0;
  bool has_id = false;
};

int RunMigrate(const OutboxOptions& o) {
  if (Status s = Outbox::Migrate(o.db); !s.ok()) return PrintOutboxError("migrate", o.db, s);
  // Migrate reached (or found) this evbus's version: anything else is an error above.
  std::printf("schema version %d\n", kOutboxSchemaVersion);
  return kExitOk;
}

std::string Seconds(std::chrono::milliseconds age) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f s", static_cast<double>(age.count()) / 1000.0);
  return text;
}

int RunStatus(const OutboxOptions& o) {
  Result<OutboxStatus> r = ReadOutboxStatus(o.db);
  if (!r.ok()) return PrintOutboxError("status", o.db, r.status());
  const OutboxStatus& s = *r;
  if (s.schema_version == 0) {
    std::fprintf(stderr,
                 "evbus outbox status: --db %s: no evbus tables (run evbus outbox migrate)\n",
                 RedactDatabaseUrl(o.db).c_str());
    return kExitRuntime;
  }
  if (o.json) {
    JsonObject out;
    out.Add("schema_version", s.schema_version).Add("pending", s.pending);
    // null, not 0, when nothing is pending: no row has an age.
    char age[32] = "null";
    if (s.pending > 0) {
      std::snprintf(age, sizeof(age), "%.3f",
                    static_cast<double>(s.oldest_pending_age.count()) / 1000.0);
    }
    out.Raw("oldest_pending_s", age);
    out.Add("dead", s.dead).Add("published_kept", s.published);
    std::printf("%s\n", out.str().c_str());
    return kExitOk;
  }
  std::printf("schema          %d\n", s.schema_version);
  std::printf("pending         %lld\n", static_cast<long long>(s.pending));
  std::printf("oldest pending  %s\n", s.pending > 0 ? Seconds(s.oldest_pending_age).c_str() : "-");
  std::printf("dead            %lld%s\n", static_cast<long long>(s.dead),
              s.dead > 0 ? "  (they hold back their aggregates: evbus outbox retry)" : "");
  std::printf("published, kept %lld  (deleted after the relay's retention)\n",
              static_cast<long long>(s.published));
  return kExitOk;
}

int RunRetry(const OutboxOptions& o) {
  Result<int64_t> n =
      RetryDeadOutboxRows(o.db, o.has_id ? std::optional<int64_t>(o.id) : std::nullopt);
  if (!n.ok()) return PrintOutboxError("retry", o.db, n.status());
  std::printf("%lld dead row(s) back to pending\n", static_cast<long long>(*n));
  return kExitOk;
}

// A subcommand of `outbox` taking --db, whose action is `body`.
CLI::App* AddDbCommand(CLI::App& outbox, Action& run, const char* name, const char* description,
                       const char* examples, int (*body)(const OutboxOptions&),
                       std::shared_ptr<OutboxOptions> o) {
  CLI::App* cmd = outbox.add_subcommand(name, description);
  cmd->footer(examples);
  cmd->add_option("--db", o->db, "Database URL: sqlite:PATH or postgresql://...")->required();
  cmd->callback([&run, o, body] { run = [o, body] { return body(*o); }; });
  return cmd;
}

}  // namespace

void RegisterOutbox(CLI::App& app, Action& run) {
  CLI::App* outbox = app.add_subcommand(
      "outbox",
      "The transactional outbox's tables (evbus_schema, evbus_outbox, evbus_inbox) in a "
      "service's database: create or upgrade them, count what waits, put dead rows back, and "
      "run a relay that publishes pending rows. --db names the database: sqlite:PATH or a "
      "postgresql:// URI.");
  outbox->require_subcommand(1);
  outbox->footer(
      "Examples:\n"
      "  evbus outbox migrate --db sqlite:orders.db\n"
      "  evbus outbox status --db postgresql://app@127.0.0.1:5432/orders --json\n"
      "  evbus outbox retry --db sqlite:orders.db --id 42\n"
      "  evbus outbox relay --db sqlite:orders.db --brokers 127.0.0.1:9092");

  AddDbCommand(*outbox, run, "migrate",
               "Create evbus's tables, or bring them up to this evbus's schema version, in one "
               "transaction; prints the version. Safe to run again, and from several processes "
               "at once. Exit code 1 if the database's schema is newer than this evbus.",
               "Examples:\n"
               "  evbus outbox migrate --db sqlite:orders.db\n"
               "  evbus outbox migrate --db postgresql://app@127.0.0.1:5432/orders",
               RunMigrate, std::make_shared<OutboxOptions>());

  auto status = std::make_shared<OutboxOptions>();
  CLI::App* status_cmd = AddDbCommand(
      *outbox, run, "status",
      "Print the schema version and the outbox's rows: pending (not yet published, including "
      "rows waiting to be retried) and the age of the oldest, dead (failed too often: they and "
      "the later rows of their aggregate wait for `evbus outbox retry`), and published rows "
      "kept until the relay's retention deletes them. Exit code 1 when the database has no "
      "evbus tables.",
      "Examples:\n"
      "  evbus outbox status --db sqlite:orders.db\n"
      "  evbus outbox status --db postgresql://app@127.0.0.1:5432/orders --json",
      RunStatus, status);
  status_cmd->add_flag("--json", status->json,
                       "One JSON object: schema_version, pending, oldest_pending_s (null when "
                       "none), dead, published_kept");

  auto retry = std::make_shared<OutboxOptions>();
  CLI::App* retry_cmd = AddDbCommand(
      *outbox, run, "retry",
      "Put dead rows back to pending with their attempts reset, so that a running relay "
      "publishes them (and the rows of their aggregates behind them) again: all of them, or "
      "only row --id. Exit code 1 when row --id is not dead.",
      "Examples:\n"
      "  evbus outbox retry --db sqlite:orders.db\n"
      "  evbus outbox retry --db postgresql://app@127.0.0.1:5432/orders --id 42",
      RunRetry, retry);
  retry_cmd->add_option("--id", retry->id, "Only this row (evbus_outbox.id)")
      ->check(CLI::Range(int64_t{1}, INT64_MAX))
      ->each([retry](const std::string&) { retry->has_id = true; });

  AddOutboxRelay(*outbox, run);
}

}  // namespace evbus::cli
