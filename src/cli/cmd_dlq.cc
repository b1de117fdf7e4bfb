// evbus dlq list|replay|purge TOPIC.dlq: a dead-letter topic's records with
// their origin, error, attempts and time; republishing them to their origin
// topic (or another); removing them. Over ops/dead_letters.h, which reads a
// topic without a consumer group and leaves nothing behind.

#include <cstdio>
#include <optional>

#include "cli/bench_progress.h"
#include "cli/commands.h"
#include "cli/config_flags.h"
#include "cli/json_text.h"
#include "codec/base64.h"
#include "ops/dead_letters.h"

namespace evbus::cli {
namespace {

struct DlqOptions {
  ConnectionFlags connection;
  std::string topic;
  // list, replay
  std::string error;
  std::string since;
  std::string until;
  int64_t limit = 0;
  bool json = false;  // list
  // replay
  std::string to;
  bool dry_run = false;
  double ack_timeout_s = 30;
  bool yes = false;  // purge
};

std::string TimeText(ops::SystemTime t) {
  return FormatRfc3339(Timestamp{std::chrono::time_point_cast<std::chrono::nanoseconds>(t), 0});
}

// A JSON string of `bytes`, or "base64:..." when they are not UTF-8.
std::string JsonBytes(std::string_view bytes) {
  if (codec::IsValidUtf8(bytes)) return JsonString(bytes);
  std::string b64 = "base64:";
  codec::AppendBase64(bytes, b64);
  return JsonString(b64);
}

std::string Origin(const ops::DeadLetter& d) {
  if (d.origin_topic.empty()) return "an unknown topic (no X-Original-Topic)";
  std::string out = d.origin_topic;
  if (d.origin_partition >= 0) out += "[" + std::to_string(d.origin_partition) + "]";
  if (d.origin_offset >= 0) out += "@" + std::to_string(d.origin_offset);
  return out;
}

std::string Where(const Record& r) {
  return r.topic + "[" + std::to_string(r.partition) + "]@" + std::to_string(r.offset);
}

void PrintJson(const ops::DeadLetter& d) {
  JsonObject o;
  o.Add("topic", d.record.topic).Add("partition", d.record.partition);
  o.Add("offset", d.record.offset).Add("origin_topic", d.origin_topic);
  o.Add("origin_partition", d.origin_partition).Add("origin_offset", d.origin_offset);
  o.Raw("error", JsonBytes(d.error)).Add("attempts", d.attempts);
  o.Add("failed_at", TimeText(d.failed_at)).Raw("key", JsonBytes(d.record.key));
  o.Raw("event_id", JsonBytes(d.event_id)).Raw("event_type", JsonBytes(d.event_type));
  o.Raw("payload", JsonBytes(d.record.payload));
  std::printf("%s\n", o.str().c_str());
}

void PrintText(const ops::DeadLetter& d) {
  std::printf("%s from %s, failed %s after %d attempt(s)\n", Where(d.record).c_str(),
              Origin(d).c_str(), TimeText(d.failed_at).c_str(), d.attempts);
  std::printf("  key %s", d.record.key.empty() ? "-" : d.record.key.c_str());
  if (!d.event_id.empty() || !d.event_type.empty()) {
    std::printf(", event %s %s", d.event_type.empty() ? "-" : d.event_type.c_str(),
                d.event_id.empty() ? "-" : d.event_id.c_str());
  }
  std::printf("\n  error %s\n", d.error.empty() ? "-" : d.error.c_str());
}

// The filter of --error, --since, --until, --limit; or a usage error naming the flag.
Result<ops::DeadLetterFilter> FilterOf(const DlqOptions& o) {
  const ops::SystemTime now = std::chrono::system_clock::now();
  std::optional<ops::SystemTime> since, until;
  if (!o.since.empty()) {
    Result<ops::SystemTime> t = ops::ParseTimeBound("--since", o.since, now);
    if (!t.ok()) return t.status();
    since = *t;
  }
  if (!o.until.empty()) {
    Result<ops::SystemTime> t = ops::ParseTimeBound("--until", o.until, now);
    if (!t.ok()) return t.status();
    until = *t;
  }
  if (since && until && *since >= *until) {
    return InvalidArgument("--since " + o.since + " is not before --until " + o.until);
  }
  return ops::DeadLetterFilter::Make(o.error, since, until, o.limit);
}

// The transport of the command's configuration, or an exit code.
struct Connected {
  Config config;
  std::unique_ptr<transport::Transport> transport;
  int exit_code = kExitOk;
};

Connected Connect(const DlqOptions& o, const char* command) {
  Connected c;
  const std::string name = std::string("dlq ") + command;
  if (!LoadOrPrint(o.connection, name.c_str(), c.config)) {
    c.exit_code = kExitUsage;
    return c;
  }
  NoteIfMemoryBrokerIsPrivate(name.c_str(), c.config);
  if (!o.topic.ends_with(c.config.subscriber.dead_letter_suffix)) {
    std::fprintf(stderr,
                 "evbus %s: note: %s does not end with \"%s\" (subscriber.dead_letter_suffix); "
                 "reading it as a dead-letter topic anyway\n",
                 name.c_str(), o.topic.c_str(), c.config.subscriber.dead_letter_suffix.c_str());
  }
  Result<std::unique_ptr<transport::Transport>> t = transport::CreateTransport(c.config, 0);
  if (!t.ok()) {
    std::fprintf(stderr, "evbus %s: %s\n", name.c_str(), t.status().ToString().c_str());
    c.exit_code = kExitRuntime;
    return c;
  }
  c.transport = std::move(t).value();
  return c;
}

// Prints "evbus dlq <command>: <topic>: <error>" and returns the runtime exit code.
int Failed(const char* command, const DlqOptions& o, const Status& s) {
  std::fprintf(stderr, "evbus dlq %s: %s: %s\n", command, o.topic.c_str(), s.ToString().c_str());
  return kExitRuntime;
}

// A progress line on a terminal, made once the total is known.
struct LazyProgress {
  explicit LazyProgress(std::string l) : label(std::move(l)) {}
  std::string label;
  std::optional<Progress> line;
  void Update(int64_t read, int64_t total) {
    if (!line) line.emplace(label, std::max<int64_t>(total, 1), "records");
    line->Update(read);
  }
};

int RunList(const DlqOptions& o) {
  Result<ops::DeadLetterFilter> filter = FilterOf(o);
  if (!filter.ok()) {
    std::fprintf(stderr, "evbus dlq list: %s\n", filter.status().ToString().c_str());
    return kExitUsage;
  }
  Connected c = Connect(o, "list");
  if (!c.transport) return c.exit_code;
  LazyProgress progress("reading " + o.topic);
  Result<int64_t> n = ops::ForEachDeadLetter(
      *c.transport, o.topic, *filter,
      [&](const ops::DeadLetter& d) {
        o.json ? PrintJson(d) : PrintText(d);
        return true;
      },
      [&](int64_t read, int64_t total) { progress.Update(read, total); });
  progress.line.reset();  // clears the line before the summary
  if (!n.ok()) return Failed("list", o, n.status());
  std::fprintf(o.json ? stderr : stdout, "%lld dead letter(s) in %s\n", static_cast<long long>(*n),
               o.topic.c_str());
  return kExitOk;
}

int RunReplay(const DlqOptions& o) {
  Result<ops::DeadLetterFilter> filter = FilterOf(o);
  if (!filter.ok()) {
    std::fprintf(stderr, "evbus dlq replay: %s\n", filter.status().ToString().c_str());
    return kExitUsage;
  }
  Connected c = Connect(o, "replay");
  if (!c.transport) return c.exit_code;
  LazyProgress progress("replaying " + o.topic);
  ops::ReplayOptions options;
  options.filter = *filter;
  options.to = o.to;
  options.dry_run = o.dry_run;
  options.ack_timeout = std::chrono::milliseconds(static_cast<int64_t>(o.ack_timeout_s * 1000));
  options.progress = [&](int64_t read, int64_t total) { progress.Update(read, total); };
  if (o.dry_run) {
    options.on_each = [](const ops::DeadLetter& d, const std::string& target) {
      std::printf("would replay %s -> %s (key %s, error %s)\n", Where(d.record).c_str(),
                  target.empty() ? "nowhere (no X-Original-Topic; use --to)" : target.c_str(),
                  d.record.key.empty() ? "-" : d.record.key.c_str(),
                  d.error.empty() ? "-" : d.error.c_str());
    };
  }
  Result<ops::ReplayReport> report = ops::ReplayDeadLetters(*c.transport, o.topic, options);
  progress.line.reset();
  if (!report.ok()) return Failed("replay", o, report.status());
  const std::string to = o.to.empty() ? "their origin topics" : o.to;
  if (o.dry_run) {
    std::printf("dry run: %lld dead letter(s) of %s would be replayed to %s; nothing published\n",
                static_cast<long long>(report->matched), o.topic.c_str(), to.c_str());
  } else {
    std::printf(
        "replayed %lld of %lld dead letter(s) from %s to %s; they stay in %s (evbus dlq purge "
        "removes them)\n",
        static_cast<long long>(report->published), static_cast<long long>(report->matched),
        o.topic.c_str(), to.c_str(), o.topic.c_str());
  }
  for (const std::string& f : report->failures) {
    std::fprintf(stderr, "evbus dlq replay: failed: %s\n", f.c_str());
  }
  if (report->failed > 0) {
    std::fprintf(stderr, "evbus dlq replay: %lld failed\n", static_cast<long long>(report->failed));
    return kExitRuntime;
  }
  return kExitOk;
}

int RunPurge(const DlqOptions& o) {
  Connected c = Connect(o, "purge");
  if (!c.transport) return c.exit_code;
  if (!o.yes) {
    // Say what would go: how many, and their span in time.
    std::optional<ops::SystemTime> first, last;
    Result<int64_t> n = ops::ForEachDeadLetter(*c.transport, o.topic, ops::DeadLetterFilter(),
                                               [&](const ops::DeadLetter& d) {
                                                 if (!first || d.failed_at < *first)
                                                   first = d.failed_at;
                                                 if (!last || d.failed_at > *last)
                                                   last = d.failed_at;
                                                 return true;
                                               });
    if (!n.ok()) return Failed("purge", o, n.status());
    std::fprintf(stderr, "evbus dlq purge: would delete %lld record(s) from %s",
                 static_cast<long long>(*n), o.topic.c_str());
    if (first) {
      std::fprintf(stderr, " (failed %s to %s)", TimeText(*first).c_str(), TimeText(*last).c_str());
    }
    std::fprintf(stderr, "; nothing deleted: add --yes to delete them\n");
    return kExitUsage;
  }
  Result<int64_t> removed = c.transport->PurgeTopic(o.topic);
  if (!removed.ok()) return Failed("purge", o, removed.status());
  std::printf("purged %lld record(s) from %s\n", static_cast<long long>(*removed), o.topic.c_str());
  return kExitOk;
}

void AddFilterFlags(CLI::App* cmd, DlqOptions& o) {
  cmd->add_option("--error", o.error,
                  "Only dead letters whose X-Error contains this text or matches this regular "
                  "expression");
  cmd->add_option("--since", o.since,
                  "Only those dead-lettered at or after this time: RFC 3339 "
                  "(2025-06-01T12:00:00Z) or a duration ago (90m, 1h30m, 36h)");
  cmd->add_option("--until", o.until, "Only those dead-lettered before this time (as --since)");
  cmd->add_option("--limit", o.limit, "At most N dead letters (0 = all)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
}

CLI::App* AddTopicCommand(CLI::App* dlq, Action& run, const char* name, const char* description,
                          const char* examples, int (*body)(const DlqOptions&),
                          const std::shared_ptr<DlqOptions>& o) {
  CLI::App* cmd = dlq->add_subcommand(name, description);
  cmd->footer(examples);
  cmd->add_option("topic", o->topic, "The dead-letter topic, e.g. orders.dlq")->required();
  o->connection.Add(cmd);
  cmd->callback([&run, o, body] { run = [o, body] { return body(*o); }; });
  return cmd;
}

}  // namespace

void RegisterDlq(CLI::App& app, Action& run) {
  CLI::App* dlq = app.add_subcommand(
      "dlq",
      "Dead letters: the records a subscriber gave up on (retries exhausted, or poison), in "
      "TOPIC + subscriber.dead_letter_suffix (.dlq). List them with their origin, error, "
      "attempts and time; replay them to their origin topic or another; purge them. Reading "
      "joins no consumer group and leaves nothing on the broker.");
  // Instead of require_subcommand, whose message does not name what was typed.
  auto typed = std::make_shared<std::vector<std::string>>();
  dlq->add_option("command", *typed, "list | replay | purge");
  dlq->callback([dlq, typed] {
    if (!dlq->get_subcommands().empty()) return;
    throw CLI::ValidationError(
        "dlq", typed->empty()
                   ? "a command is required: list, replay or purge"
                   : "unknown command \"" + typed->front() + "\": use list, replay or purge");
  });
  dlq->footer(
      "Examples:\n"
      "  evbus dlq list orders.dlq --brokers 127.0.0.1:9092\n"
      "  evbus dlq replay orders.dlq --error timeout --since 2h --url nats://127.0.0.1:4222\n"
      "  evbus dlq purge orders.dlq --yes --config kafka.yaml");

  auto list = std::make_shared<DlqOptions>();
  CLI::App* list_cmd = AddTopicCommand(
      dlq, run, "list",
      "Print each dead letter of TOPIC: where it is, its origin topic, partition and offset, "
      "when it failed and after how many attempts, its key, event type and id, and the error. "
      "Exit code 1 if the topic does not exist.",
      "Examples:\n"
      "  evbus dlq list orders.dlq --brokers 127.0.0.1:9092\n"
      "  evbus dlq list orders.dlq --json --error 'billing|timeout' --since 1h --url "
      "nats://127.0.0.1:4222",
      RunList, list);
  AddFilterFlags(list_cmd, *list);
  list_cmd->add_flag("--json", list->json,
                     "One JSON object per dead letter: topic, partition, offset, origin_topic, "
                     "origin_partition, origin_offset, error, attempts, failed_at, key, "
                     "event_id, event_type, payload");

  auto replay = std::make_shared<DlqOptions>();
  CLI::App* replay_cmd = AddTopicCommand(
      dlq, run, "replay",
      "Publish the dead letters of TOPIC again, to the topic each came from (X-Original-Topic) "
      "or to --to, with their key, payload and headers (without the dead-letter ones), and "
      "wait for every acknowledgement. They stay in TOPIC: `evbus dlq purge` removes them. "
      "Exit code 1 if any publish failed (each failure is named).",
      "Examples:\n"
      "  evbus dlq replay orders.dlq --dry-run --brokers 127.0.0.1:9092\n"
      "  evbus dlq replay orders.dlq --error 'billing' --since 2025-06-01T00:00:00Z\n"
      "  evbus dlq replay orders.dlq --to orders-retry --limit 100 --url nats://127.0.0.1:4222",
      RunReplay, replay);
  AddFilterFlags(replay_cmd, *replay);
  replay_cmd->add_option("--to", replay->to, "Publish to this topic instead of the origin");
  replay_cmd->add_flag("--dry-run", replay->dry_run,
                       "Print what would be replayed, and where to; publish nothing");
  replay_cmd
      ->add_option("--ack-timeout", replay->ack_timeout_s,
                   "Seconds to wait for the acknowledgements after the last publish")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 3600.0));

  auto purge = std::make_shared<DlqOptions>();
  CLI::App* purge_cmd = AddTopicCommand(
      dlq, run, "purge",
      "Delete every record TOPIC holds now (Kafka: up to each partition's high watermark; "
      "NATS: the topic's subjects up to their last message; memory: the whole log). Without "
      "--yes, print what would be deleted and exit 2.",
      "Examples:\n"
      "  evbus dlq purge orders.dlq --brokers 127.0.0.1:9092\n"
      "  evbus dlq purge orders.dlq --yes --url nats://127.0.0.1:4222",
      RunPurge, purge);
  purge_cmd->add_flag("--yes", purge->yes, "Really delete");
}

}  // namespace evbus::cli
