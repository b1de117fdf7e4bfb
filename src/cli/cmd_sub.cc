// evbus sub (alias tail): reads a topic through the transport and prints each
// record (headers, key, decoded envelope) as text or JSON lines. With --group
// it reads as that consumer group and commits what it printed; without, it
// reads as a throwaway group and commits nothing.

#include <atomic>
#include <csignal>
#include <cstdio>
#include <map>
#include <optional>
#include <random>

#include "cli/commands.h"
#include "cli/config_flags.h"
#include "cli/json_text.h"
#include "codec/base64.h"
#include "evbus/trace_context.h"
#include "transport/transport.h"

namespace evbus::cli {
namespace {

std::atomic<bool> g_interrupted{false};
extern "C" void OnInterrupt(int) { g_interrupted.store(true); }

struct SubOptions {
  ConnectionFlags connection;
  std::string topic;
  std::string group;  // empty: read without committing
  int64_t count = 0;  // 0 = no limit
  double timeout_s = 0;
  std::string format = "text";
  bool raw = false;
  std::string from;  // empty: subscriber.auto_offset_reset
};

// A JSON string of `bytes`, or "base64:..." when they are not UTF-8.
std::string JsonText(std::string_view bytes) {
  if (codec::IsValidUtf8(bytes)) return JsonString(bytes);
  std::string b64 = "base64:";
  codec::AppendBase64(bytes, b64);
  return JsonString(b64);
}

std::string TimeText(std::chrono::system_clock::time_point t) {
  return FormatRfc3339(Timestamp{std::chrono::time_point_cast<std::chrono::nanoseconds>(t), 0});
}

void PrintJson(const Record& r, const Envelope* e) {
  std::vector<std::string> headers;
  for (const Header& h : r.headers) {
    headers.push_back(
        JsonObject().Raw("key", JsonText(h.key)).Raw("value", JsonText(h.value)).str());
  }
  JsonObject o;
  o.Add("topic", r.topic).Add("partition", r.partition).Add("offset", r.offset);
  o.Raw("key", JsonText(r.key)).Add("timestamp", TimeText(r.timestamp));
  o.Raw("headers", JsonArray(headers));
  if (std::optional<TraceContext> trace = TraceContext::FromHeaders(r.headers)) {
    o.Add("trace_id", trace->trace_id);
  }
  // A decoded envelope is valid JSON as it stands: embed it.
  o.Raw(e != nullptr ? "envelope" : "payload", e != nullptr ? r.payload : JsonText(r.payload));
  std::printf("%s\n", o.str().c_str());
}

void PrintText(const Record& r, const Envelope* e) {
  std::printf("%s partition %d offset %lld key %s at %s\n", r.topic.c_str(), r.partition,
              static_cast<long long>(r.offset), r.key.empty() ? "-" : r.key.c_str(),
              TimeText(r.timestamp).c_str());
  for (const Header& h : r.headers) std::printf("  %s: %s\n", h.key.c_str(), h.value.c_str());
  if (std::optional<TraceContext> trace = TraceContext::FromHeaders(r.headers)) {
    std::printf("  trace %s\n", trace->trace_id.c_str());
  }
  if (e != nullptr) {
    std::printf("  envelope %s aggregate %s version %lld id %s at %s\n", e->event_type.c_str(),
                e->aggregate_id.c_str(), static_cast<long long>(e->event_version),
                e->event_id.c_str(), FormatRfc3339(e->timestamp).c_str());
    std::printf("  payload %s\n", e->payload.c_str());
  } else {
    std::printf("  payload %s\n", JsonText(r.payload).c_str());
  }
}

std::string ThrowawayGroup() {
  std::random_device rd;
  return "evbus-tail" + RunSuffix() + "-" + std::to_string(rd());
}

int Run(const SubOptions& o) {
  Config config;
  if (!LoadOrPrint(o.connection, "sub", config)) return kExitUsage;
  if (!o.from.empty()) {
    config.subscriber.auto_offset_reset =
        o.from == "latest" ? OffsetReset::kLatest : OffsetReset::kEarliest;
  }
  NoteIfMemoryBrokerIsPrivate("sub", config);
  const bool commit = !o.group.empty();
  Result<std::unique_ptr<transport::Transport>> t = transport::CreateTransport(config, 0);
  if (!t.ok()) {
    std::fprintf(stderr, "evbus sub: %s\n", t.status().ToString().c_str());
    return kExitRuntime;
  }
  // The topic under topic_strategy, as a bus's Start() asserts it: a missing
  // topic is refused under validate_only (a Kafka consumer alone would wait
  // for it silently), or created with the configured partitions.
  Status s = (*t)->EnsureTopic(o.topic);
  Result<std::unique_ptr<transport::Consumer>> c =
      s.ok() ? (*t)->CreateConsumer(commit ? o.group : ThrowawayGroup()) : s;
  if (s.ok()) s = c.ok() ? (*c)->Subscribe({o.topic}, nullptr) : c.status();
  if (!s.ok()) {
    std::fprintf(stderr, "evbus sub: %s: %s\n", o.topic.c_str(), s.ToString().c_str());
    return kExitRuntime;
  }
  g_interrupted.store(false);
  auto previous = std::signal(SIGINT, OnInterrupt);
  const auto idle_limit = std::chrono::duration<double>(o.timeout_s);
  auto last_record = transport::Clock::now();
  int64_t printed = 0;
  std::vector<transport::RecordPtr> batch;
  Envelope envelope;
  while (!g_interrupted.load() && (o.count == 0 || printed < o.count)) {
    batch.clear();
    s = (*c)->Poll(batch, 500, std::chrono::milliseconds(100));
    if (!s.ok()) std::fprintf(stderr, "evbus sub: %s\n", s.ToString().c_str());
    std::map<transport::TopicPartition, int64_t> next;
    for (const transport::RecordPtr& r : batch) {
      if (o.count != 0 && printed == o.count) break;
      const bool is_envelope = !o.raw && DecodeEnvelopeInto(r->payload, envelope).ok();
      if (o.format == "json") {
        PrintJson(*r, is_envelope ? &envelope : nullptr);
      } else {
        PrintText(*r, is_envelope ? &envelope : nullptr);
      }
      ++printed;
      next[{r->topic, r->partition}] = r->offset + 1;
    }
    std::fflush(stdout);
    if (!batch.empty()) last_record = transport::Clock::now();
    if (commit && !next.empty()) {
      std::vector<transport::CommitOffset> offsets;
      for (const auto& [tp, offset] : next) offsets.push_back({tp, offset});
      // What was printed is committed before the next batch (a broker that
      // does not answer within 10 s is reported, and the batch is read again).
      if (s = (*c)->Commit(offsets, transport::Clock::now() + std::chrono::seconds(10)); !s.ok()) {
        std::fprintf(stderr, "evbus sub: commit: %s\n", s.ToString().c_str());
      }
    }
    if (o.timeout_s > 0 && transport::Clock::now() - last_record >= idle_limit) break;
  }
  std::signal(SIGINT, previous);
  s = (*c)->Close(transport::Clock::now() + std::chrono::seconds(10));
  c->reset();  // the consumer goes before its transport
  std::fprintf(stderr, "evbus sub: %lld record(s)%s\n", static_cast<long long>(printed),
               commit ? ", committed" : "");
  if (o.count != 0 && printed < o.count) {
    std::fprintf(stderr, "evbus sub: --count %lld: only %lld arrived before --timeout\n",
                 static_cast<long long>(o.count), static_cast<long long>(printed));
    return kExitRuntime;
  }
  return kExitOk;
}

}  // namespace

void RegisterSub(CLI::App& app, Action& run) {
  auto o = std::make_shared<SubOptions>();
  CLI::App* cmd = app.add_subcommand(
      "sub",
      "Read TOPIC and print each record: topic, partition, offset, key, time, headers, the "
      "trace id of its W3C traceparent header (when it has one), and the decoded envelope (or the "
      "payload when it is not one). With --group, read as that "
      "consumer group and commit what was printed; without, read as a new throwaway group and "
      "commit nothing. Runs until --count records, --timeout seconds without a record, or "
      "Ctrl-C. Exit code 1 when --count records did not arrive.");
  cmd->alias("tail");
  cmd->footer(
      "Examples:\n"
      "  evbus sub orders --brokers 127.0.0.1:9092 --count 10\n"
      "  evbus tail orders --url nats://127.0.0.1:4222 --from latest --format json\n"
      "  evbus sub orders --group billing --timeout 5 --config kafka.yaml\n"
      "On the memory transport the broker lives in the process: see `evbus script`.\n"
      "Without --group on NATS, the throwaway group's durable consumers (evbus-tail-...) stay\n"
      "on the server until removed (nats consumer rm); on Kafka the empty group expires.");
  cmd->add_option("topic", o->topic, "Topic to read")->required();
  cmd->add_option("--group", o->group, "Consumer group to join and commit as");
  cmd->add_option("--count", o->count, "Stop after N records (0 = no limit)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  cmd->add_option("--timeout", o->timeout_s, "Stop after this many seconds without a record")
      ->check(CLI::Range(0.0, 1e6));
  cmd->add_option("--format", o->format, "text | json (one object per line)")
      ->capture_default_str()
      ->check(CLI::IsMember({"text", "json"}));
  cmd->add_flag("--raw", o->raw, "Do not decode envelopes");
  cmd->add_option("--from", o->from,
                  "Where a new group starts: earliest | latest (default: "
                  "subscriber.auto_offset_reset, earliest)")
      ->check(CLI::IsMember({"earliest", "latest"}));
  o->connection.Add(cmd);
  cmd->callback([&run, o] { run = [o] { return Run(*o); }; });
}

}  // namespace evbus::cli
