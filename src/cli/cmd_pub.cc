// evbus pub: publishes envelopes (or raw records) given as arguments, in a
// file or on stdin (one JSON object per line), waits for every completion and
// fails when any publish failed. --cloudevents writes the envelopes as
// CloudEvents in that mode, whatever the topic's configured format.

#include <atomic>
#include <cstdio>
#include <limits>
#include <mutex>

#include "cli/commands.h"
#include "cli/config_flags.h"
#include "cli/envelope_input.h"
#include "cli/line_input.h"
#include "evbus/evbus.h"

namespace evbus::cli {
namespace {

struct PubOptions {
  ConnectionFlags connection;
  std::string topic;
  std::vector<std::string> messages;
  std::string file;  // "-" = stdin
  bool raw = false;
  std::string key;
  std::vector<std::string> headers;  // K=V
  int32_t partition = -1;            // -1: the key's
  EnvelopeDefaults defaults;
  std::string cloudevents;  // binary | structured: overrides topics.<topic>.format
};

// --header K=V (repeatable) and --partition, as the bus's publish options.
PublishOptions ToPublishOptions(const PubOptions& p) {
  PublishOptions options;
  for (const std::string& h : p.headers) {
    const size_t eq = h.find('=');
    options.headers.push_back({h.substr(0, eq), h.substr(eq + 1)});
  }
  if (p.partition >= 0) options.partition = p.partition;
  return options;
}

// Prints one line per completion, in completion order, and counts them.
class Completions {
 public:
  void Done(const PublishResult& r) {
    std::lock_guard<std::mutex> lock(mu_);
    if (r.status.ok()) {
      ++ok_;
      std::printf("published %s partition %d offset %lld%s%s\n", r.topic.c_str(), r.partition,
                  static_cast<long long>(r.offset), r.event_id.empty() ? "" : " event ",
                  r.event_id.c_str());
    } else {
      std::printf("failed %s %s: %s\n", r.topic.c_str(), r.event_id.c_str(),
                  r.status.ToString().c_str());
    }
    std::fflush(stdout);
  }
  int64_t ok() {
    std::lock_guard<std::mutex> lock(mu_);
    return ok_;
  }

 private:
  std::mutex mu_;
  int64_t ok_ = 0;
};

// Publishes one message; errors name the message's place in the input.
Status PublishOne(EventBus& bus, const PubOptions& p, const PublishOptions& options,
                  const std::string& message, const PublishCallback& done) {
  if (!p.raw) {
    Result<Envelope> e = ParseEnvelopeInput(message, p.defaults);
    if (!e.ok()) return e.status();
    return bus.PublishEnvelope(p.topic, *e, done, options);
  }
  Record r;
  r.topic = p.topic;
  r.key = p.key;
  r.payload = message;
  return bus.Publish(std::move(r), done, options);
}

int Run(const PubOptions& p) {
  Config config;
  if (!LoadOrPrint(p.connection, "pub", config)) return kExitUsage;
  if (!p.cloudevents.empty()) {
    config.topics[p.topic].format = p.cloudevents == "structured"
                                        ? EventFormat::kCloudEventsStructured
                                        : EventFormat::kCloudEventsBinary;
  }
  LineInput input(p.file);
  if (!input.ok()) {
    std::fprintf(stderr, "evbus pub: --file %s: cannot open\n", p.file.c_str());
    return kExitUsage;
  }
  NoteIfMemoryBrokerIsPrivate("pub", config);
  Result<std::unique_ptr<EventBus>> bus = EventBus::Create(config);
  if (!bus.ok()) {
    std::fprintf(stderr, "evbus pub: %s\n", bus.status().ToString().c_str());
    return kExitRuntime;
  }
  Completions completions;
  const PublishCallback done = [&](const PublishResult& r) { completions.Done(r); };
  int64_t accepted = 0;
  Status failed;
  const PublishOptions options = ToPublishOptions(p);
  auto publish = [&](const std::string& message, const std::string& where) {
    if (!failed.ok() || message.find_first_not_of(" \t\r") == std::string::npos) return;
    Status s = PublishOne(**bus, p, options, message, done);
    if (s.ok()) {
      ++accepted;
    } else {
      failed = Status(s.code(), where + ": " + s.message());
    }
  };
  for (size_t i = 0; i < p.messages.size(); ++i) {
    publish(p.messages[i], "message " + std::to_string(i + 1));
  }
  std::string line;
  while ((!p.file.empty() || p.messages.empty()) && failed.ok() && input.Next(line)) {
    publish(line, input.where());
  }
  // Close flushes: every accepted publish has completed when it returns.
  Result<CloseReport> closed = (*bus)->Close();
  const int64_t ok = completions.ok();
  // A refused publish stops the run: it counts as failed, what follows as not sent.
  const int64_t refused = failed.ok() ? 0 : 1;
  std::fprintf(stderr, "evbus pub: %lld published, %lld failed\n", static_cast<long long>(ok),
               static_cast<long long>(accepted - ok + refused));
  if (!failed.ok()) std::fprintf(stderr, "evbus pub: %s\n", failed.ToString().c_str());
  if (!closed.ok()) std::fprintf(stderr, "evbus pub: %s\n", closed.status().ToString().c_str());
  return failed.ok() && closed.ok() && ok == accepted ? kExitOk : kExitRuntime;
}

}  // namespace

void RegisterPub(CLI::App& app, Action& run) {
  auto p = std::make_shared<PubOptions>();
  CLI::App* cmd = app.add_subcommand(
      "pub",
      "Publish envelopes (or raw records with --raw) to TOPIC, wait for every completion, and "
      "print where each was stored. Messages come from the arguments, from --file, or from "
      "stdin when neither is given: one per line. An envelope message is a JSON object in the "
      "wire format; only \"payload\" is required (event_id, event_version 1 and the timestamp "
      "are filled in). Exit code 1 if any publish failed.");
  cmd->footer(
      "Examples:\n"
      "  evbus pub orders '{\"aggregate_id\":\"order-1\",\"event_type\":\"OrderPlaced\","
      "\"payload\":{\"total\":3}}'\n"
      "  evbus pub orders --aggregate order-1 '{\"payload\":{\"total\":3}}' --brokers "
      "127.0.0.1:9092\n"
      "  evbus pub orders --file events.jsonl --url nats://127.0.0.1:4222\n"
      "  printf 'a\\nb\\n' | evbus pub logs --raw --key k1 --header source=cli\n"
      "  evbus pub orders --cloudevents structured --aggregate order-1 '{\"payload\":{}}'\n"
      "  evbus pub orders --aggregate order-1 --partition 2 --header traceparent=00-"
      "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 '{\"payload\":{}}'\n"
      "On the memory transport the broker lives in the process: see `evbus script`.");
  cmd->add_option("topic", p->topic, "Topic to publish to")->required();
  cmd->add_option("messages", p->messages, "Messages (one JSON object each, or raw with --raw)");
  cmd->add_option("--file", p->file, "Read messages from FILE, one per line ('-' = stdin)");
  cmd->add_flag("--raw", p->raw, "Publish each message as a raw record's payload");
  cmd->add_option("--key", p->key, "Key of raw records (--raw)");
  cmd->add_option("--header", p->headers,
                  "Header K=V of every message, after an envelope's own (repeatable)")
      ->allow_extra_args(false)
      ->check(
          [](const std::string& h) {
            return h.find('=') == std::string::npos || h.front() == '='
                       ? "header " + h + " is not K=V (a non-empty name, '=', the value)"
                       : std::string();
          },
          "K=V");
  cmd->add_option("--partition", p->partition,
                  "Store every message in partition N instead of its key's")
      ->check(CLI::Range(0, std::numeric_limits<int32_t>::max()));
  cmd->add_option("--aggregate", p->defaults.aggregate_id,
                  "Aggregate id of envelopes that have none");
  cmd->add_option("--type", p->defaults.event_type, "Event type of envelopes that have none")
      ->capture_default_str();
  cmd->add_option("--cloudevents", p->cloudevents,
                  "Publish the envelopes as CloudEvents 1.0 in this mode, whatever the topic's "
                  "topics.<name>.format (source = service_name)")
      ->check(CLI::IsMember({"binary", "structured"}));
  p->connection.Add(cmd);
  cmd->callback([&run, p, cmd] {
    if (!p->raw && cmd->count("--key") > 0) {
      throw CLI::ValidationError("--key", "only applies to raw records: add --raw");
    }
    if (p->raw && !p->cloudevents.empty()) {
      throw CLI::ValidationError("--cloudevents", "applies to envelopes, not to --raw records");
    }
    run = [p] { return Run(*p); };
  });
}

}  // namespace evbus::cli
