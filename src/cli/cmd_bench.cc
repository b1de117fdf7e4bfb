// evbus bench: measured scenarios, each beside a baseline from the same run.
//   seed       the seed's workload: 500..10000 events over 5 topics
//              (bench_seed.cc)
//   sustained  N events of S bytes over K aggregates and P partitions, for each
//              ordering, envelopes and raw records, beside the transport alone
//   keyed      one partition, many keys, a handler that sleeps, W workers:
//              per_key against per_partition (ordering by key lifts the
//              partition limit)
//   lifecycle  create -> subscribe -> load -> close, R times
//              (bench_lifecycle.cc)
//   latency    open loop: latency at fixed rates, a share of the maximum
//              (bench_latency.cc)
//   raw        the sustained workload through the transport's client alone
//   outbox     publishing straight to the broker beside the transactional
//              outbox: rows committed, relayed and handled (bench_outbox.cc)

#include <atomic>
#include <cstdio>
#include <fstream>
#include <thread>

#include "cli/bench.h"
#include "cli/commands.h"
#include "core/thread.h"

namespace evbus::cli {
namespace {

std::vector<Ordering> ParseOrderings(const std::string& list) {
  std::vector<Ordering> out;
  for (const std::string& item : CLI::detail::split(list, ',')) {
    if (item == "per_key") out.push_back(Ordering::kPerKey);
    if (item == "per_partition") out.push_back(Ordering::kPerPartition);
    if (item == "none") out.push_back(Ordering::kNone);
  }
  return out;
}

// Sustained and raw share the setup: P partitions, retention sized so the
// closed-loop producer never outruns it.
WorkloadOptions SustainedBase(const BenchOptions& b, WorkloadOptions base, const std::string& title,
                              BenchReport& report) {
  base.config.memory.partitions = b.partitions;
  base.config.memory.retention_records =
      std::max<int64_t>(10'000, 2 * base.max_outstanding / b.partitions + 1000);
  // One --rates value: every row publishes at it, open loop, so that their
  // CPU per message is measured at the same rate. Closed loop, a slower kind
  // of message (envelopes) also means fewer records per wake-up, and so more
  // wake-ups per message: the ratio would not be the message's cost alone.
  if (!b.rates.empty()) base.rate = b.rates.front();
  const std::string pace =
      base.rate > 0 ? ", open loop at " + std::to_string(std::lround(base.rate)) + "/s" : "";
  char line[256];
  std::snprintf(line, sizeof(line),
                "%s: %lld events of %d bytes, %d aggregates, %d partitions, %d workers, "
                "transport %s%s",
                title.c_str(), static_cast<long long>(base.events), b.payload_bytes,
                base.aggregates, WorkloadPartitions(base.config),
                base.config.subscriber.workers > 0
                    ? base.config.subscriber.workers
                    : static_cast<int>(std::thread::hardware_concurrency()),
                report.transport().c_str(), pace.c_str());
  report.Note(line);
  return base;
}

// The transport alone, envelopes and raw records.
bool RunBaselines(WorkloadOptions raw, const std::string& run_id, BenchReport& report) {
  const std::string client = raw.config.transport == TransportKind::kKafka  ? "librdkafka"
                             : raw.config.transport == TransportKind::kNats ? "cnats"
                                                                            : "transport";
  raw.topic = "bench-" + report.scenario() + "-baseline" + run_id;
  raw.config.subscriber.group = raw.topic;
  bool ok = report.Run(client + " alone, envelope", raw, true);
  raw.envelopes = false;
  raw.topic += "-raw";
  raw.config.subscriber.group = raw.topic;
  return report.Run(client + " alone, record", raw, true) && ok;
}

// Under the table: each evbus run against the baseline of the same kind
// (envelopes or records), as throughput and CPU-per-message ratios.
void NoteRatios(BenchReport& report) {
  auto is_envelope = [](const BenchRow& row) {
    return row.name.find("envelope") != std::string::npos;
  };
  for (const BenchRow& run : report.rows()) {
    if (run.baseline) continue;
    for (const BenchRow& base : report.rows()) {
      if (!base.baseline || is_envelope(base) != is_envelope(run)) continue;
      const WorkloadResult& a = run.result;
      const WorkloadResult& b = base.result;
      char line[256];
      std::snprintf(line, sizeof(line), "%-30s / %s: msg/s %.2fx, cpu per msg %.2fx",
                    run.name.c_str(), base.name.c_str(),
                    b.throughput > 0 ? a.throughput / b.throughput : 0.0,
                    b.cpu_us_per_msg > 0 ? a.cpu_us_per_msg / b.cpu_us_per_msg : 0.0);
      report.Note(line);
    }
  }
}

}  // namespace

bool RunSustained(const BenchOptions& b, WorkloadOptions base, BenchReport& report) {
  base = SustainedBase(b, base, "sustained", report);
  base.threads_after_2s = true;  // as jxt-core's tests counted them, beside the exact count
  bool ok = true;
  int run = 0;
  const std::string run_id = RunSuffix();
  for (Ordering ordering : ParseOrderings(b.orderings)) {
    WorkloadOptions o = base;
    o.ordering = ordering;
    o.topic = "bench-sustained-" + std::to_string(run++) + run_id;
    o.config.subscriber.group = o.topic;
    ok &= report.Run("evbus envelope " + std::string(ToString(ordering)), o, false);
    o.envelopes = false;
    o.topic += "-raw";
    o.config.subscriber.group = o.topic;
    ok &= report.Run("evbus record " + std::string(ToString(ordering)), o, false);
  }
  ok = RunBaselines(base, run_id, report) && ok;
  NoteRatios(report);
  return ok;
}

bool RunRawOnly(const BenchOptions& b, WorkloadOptions base, BenchReport& report) {
  base = SustainedBase(b, base, "raw", report);
  return RunBaselines(base, RunSuffix(), report);
}

// The most a pool of `workers` threads can do when each message costs what
// the keyed handler does (a wait of `cost` on one shared CancelToken, as the
// handlers wait on the bus's), measured for one second with nothing else
// running: on a 2-core VM, 64 threads sleeping 1 ms reach about 0.89 of
// workers / cost (timer slack, wake-ups through one mutex). The bus cannot
// beat this, so it is the keyed run's ceiling.
static double MeasuredCeiling(int workers, std::chrono::microseconds cost) {
  CancelToken token;
  std::atomic<int64_t> done{0};
  using Clock = std::chrono::steady_clock;
  const auto end = Clock::now() + std::chrono::seconds(1);
  std::vector<core::Thread> threads;
  for (int i = 0; i < workers; ++i) {
    threads.push_back(core::Thread::Start("evb-ceiling", "bench-ceiling", 0, [&] {
      while (Clock::now() < end) {
        token.WaitFor(cost);
        done.fetch_add(1, std::memory_order_relaxed);
      }
    }));
  }
  const auto start = Clock::now();
  for (core::Thread& t : threads) t.Join();
  return static_cast<double>(done.load()) /
         std::chrono::duration<double>(Clock::now() - start).count();
}

bool RunKeyed(const BenchOptions& b, WorkloadOptions base, BenchReport& report) {
  base.config.memory.partitions = 1;  // one partition on every transport
  base.config.kafka.topic_partitions = 1;
  base.config.nats.partitions = 1;
  base.config.subscriber.window =
      std::max(base.config.subscriber.window, 4 * base.config.subscriber.workers);
  base.handler_sleep = std::chrono::microseconds(b.handler_sleep_us);
  const int workers = base.config.subscriber.workers;
  const double ideal = workers * 1e6 / b.handler_sleep_us;
  const double ceiling = MeasuredCeiling(workers, base.handler_sleep);
  char line[300];
  std::snprintf(line, sizeof(line),
                "keyed: %lld events, 1 partition, %d keys, %d workers, handler sleeps %d us; "
                "ideal %.0f msg/s; measured ceiling %.0f msg/s (%d threads doing only the "
                "handler's wait, 1 s: %.2f x ideal)",
                static_cast<long long>(base.events), base.aggregates, workers, b.handler_sleep_us,
                ideal, ceiling, workers, ceiling / ideal);
  report.Note(line);
  bool ok = true;
  for (Ordering ordering : {Ordering::kPerKey, Ordering::kPerPartition}) {
    WorkloadOptions o = base;
    o.ordering = ordering;
    o.topic = "bench-keyed-" + std::string(ToString(ordering)) + RunSuffix();
    o.config.subscriber.group = o.topic;
    const std::string name = "evbus " + std::string(ToString(ordering));
    if (!report.Run(name, o, false)) return false;
    const double rate = report.rows().back().result.throughput;
    std::snprintf(line, sizeof(line), "%s: %.2f x ideal, %.2f x measured ceiling", name.c_str(),
                  rate / ideal, rate / ceiling);
    report.Note(line);
  }
  return ok;
}

namespace {

int64_t DefaultEvents(const std::string& scenario) {
  // per_partition runs at 1/handler cost: 20000 x 1 ms takes 20 s.
  if (scenario == "keyed") return 20'000;
  if (scenario == "lifecycle") return 10'000;
  if (scenario == "latency") return 200'000;  // the closed-loop probe
  if (scenario == "outbox") return 50'000;    // a database round trip per 100 rows
  return 1'000'000;
}

int Run(BenchOptions b) {
  if (b.reps == 0) b.reps = b.scenario == "lifecycle" ? 5 : 1;
  if ((b.scenario == "sustained" || b.scenario == "raw") && b.rates.size() > 1) {
    std::fprintf(stderr, "evbus bench %s: --rates %s: give one rate (events/s) for all rows\n",
                 b.scenario.c_str(), CLI::detail::join(b.rates, ",").c_str());
    return kExitUsage;
  }
  WorkloadOptions o;
  o.events = b.events > 0 ? b.events : DefaultEvents(b.scenario);
  o.aggregates = b.aggregates;
  o.payload_bytes = b.payload_bytes;
  o.config.subscriber.workers = b.workers;
  if (b.scenario == "keyed" && b.workers == 0) o.config.subscriber.workers = 64;
  if (!LoadOrPrint(b.connection, "bench", o.config)) return kExitUsage;
  BenchReport report(b.scenario, std::string(ToString(o.config.transport)));
  bool ok = false;
  if (b.scenario == "seed") ok = RunSeed(b, o, report);
  if (b.scenario == "sustained") ok = RunSustained(b, o, report);
  if (b.scenario == "keyed") ok = RunKeyed(b, o, report);
  if (b.scenario == "lifecycle") ok = RunLifecycle(b, o, report);
  if (b.scenario == "raw") ok = RunRawOnly(b, o, report);
  if (b.scenario == "latency") ok = RunLatency(b, o, report);
  if (b.scenario == "outbox") ok = RunOutbox(b, o, report);
  if (!b.json_file.empty()) {
    std::ofstream out(b.json_file);
    out << report.ToJson();
    if (!out.flush()) {
      std::fprintf(stderr, "evbus bench: --json %s: cannot write\n", b.json_file.c_str());
      ok = false;
    }
  }
  if (!b.plot_dir.empty()) {
    if (Status s = WritePlots(b.plot_dir, report); !s.ok()) {
      std::fprintf(stderr, "evbus bench: --plot: %s\n", s.ToString().c_str());
      ok = false;
    }
  }
  return ok && report.clean() ? kExitOk : kExitRuntime;
}

}  // namespace

void RegisterBench(CLI::App& app, Action& run) {
  auto b = std::make_shared<BenchOptions>();
  CLI::App* cmd = app.add_subcommand(
      "bench",
      "Run a measured scenario and print throughput (at receive completion), end-to-end "
      "latency (publish call -> handler entry), order violations, duplicates, losses, threads, "
      "memory and close time, beside a baseline of the transport alone. Scenarios:\n"
      "  seed       500/2000/5000/10000 events over 5 topics, aggregates = clamp(N/10, 50, "
      "1000), envelopes and plain records, order checked\n"
      "  sustained  --events N (default 1M) of --payload-bytes over --aggregates and "
      "--partitions, for each of --orderings; with --rates R, every row at R events/s (open "
      "loop), so CPU per message compares at one rate\n"
      "  keyed      one partition, many keys, a handler that sleeps --handler-sleep-us, "
      "--workers (default 64): per_key against per_partition\n"
      "  lifecycle  create -> subscribe -> load (--events, default 10000) -> close, --reps "
      "times: close time, threads per phase, RSS before/after\n"
      "  raw        the sustained workload through the transport's client alone\n"
      "  latency    open loop: the closed-loop maximum (--events, default 200000), then "
      "--seconds at each of --loads percent of it (or at --rates), evbus beside the client "
      "alone; latency from each event's intended send time, to p99.99\n"
      "  outbox     --events N (default 50000) published straight through a bus; then committed "
      "to --db with Outbox::Add (100 rows per transaction) and drained by a relay (--batch): "
      "rows/s from relay start to the last broker acknowledgement, and outbox / direct; then "
      "a writer commits at half that rate while the relay runs: commit -> handler latency "
      "(--aggregates default 1000, --payload-bytes default 100)\n"
      "Exit code 1 if a run failed, lost, duplicated or reordered a message.");
  cmd->footer(
      "Examples:\n"
      "  evbus bench seed --json seed.json --plot seed-plots\n"
      "  evbus bench sustained --events 10000000 --aggregates 100000\n"
      "  evbus bench sustained --orderings per_key --rates 200000\n"
      "  evbus bench keyed --events 200000 --aggregates 10000 --workers 64\n"
      "  evbus bench lifecycle --reps 10 --brokers 127.0.0.1:9092\n"
      "  evbus bench raw --events 1000000 --url nats://127.0.0.1:4222\n"
      "  evbus bench latency --loads 25,50,75 --seconds 10 --plot latency-plots\n"
      "  evbus bench latency --rates 1000,5000 --brokers 127.0.0.1:9092\n"
      "  evbus bench outbox --db sqlite:/tmp/bench.db --brokers 127.0.0.1:9092\n"
      "  evbus bench outbox --db postgresql://app@127.0.0.1:5432/bench --events 100000");
  cmd->add_option("scenario", b->scenario,
                  "seed | sustained | keyed | lifecycle | raw | latency | outbox")
      ->capture_default_str()
      ->check(
          CLI::IsMember({"seed", "sustained", "keyed", "lifecycle", "raw", "latency", "outbox"}));
  cmd->add_option("--events", b->events,
                  "Events per run (default: sustained/raw 1000000, keyed 20000, lifecycle "
                  "10000, outbox 50000; seed uses --sizes)")
      ->check(CLI::Range(int64_t{1}, int64_t{1'000'000'000}));
  cmd->add_option("--aggregates", b->aggregates, "Distinct aggregate ids (keys)")
      ->capture_default_str()
      ->check(CLI::Range(1, 10'000'000));
  cmd->add_option("--payload-bytes", b->payload_bytes, "Payload size")
      ->capture_default_str()
      ->check(CLI::Range(16, 1 << 20));
  cmd->add_option("--partitions", b->partitions, "Partitions (sustained, raw; memory)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--workers", b->workers, "Worker threads (0 = hardware; keyed default 64)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1024));
  cmd->add_option("--orderings", b->orderings, "Orderings to run (sustained)")
      ->capture_default_str()
      ->check([](const std::string& list) {
        return ParseOrderings(list).size() == CLI::detail::split(list, ',').size()
                   ? std::string()
                   : "--orderings " + list + ": use per_key, per_partition, none";
      });
  cmd->add_option("--handler-sleep-us", b->handler_sleep_us, "Handler cost (keyed)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1'000'000));
  cmd->add_option("--sizes", b->sizes, "Event counts of the seed scenario")
      ->capture_default_str()
      ->delimiter(',')
      ->check(CLI::Range(int64_t{1}, int64_t{100'000'000}));
  cmd->add_option("--reps", b->reps,
                  "Repetitions (lifecycle, default 5; seed, default 1, prints the min-max of "
                  "each figure)")
      ->check(CLI::Range(1, 10'000));
  cmd->add_option("--warmup-reps", b->warmup_reps,
                  "Seed: repetitions run first and not counted, as a broker's first runs are "
                  "slower (default 1 with --reps above 1, else 0)")
      ->check(CLI::Range(0, 100));
  cmd->add_option("--loads", b->loads, "Open-loop rates, percent of the maximum (latency)")
      ->capture_default_str()
      ->delimiter(',')
      ->check(CLI::Range(1, 1000));
  cmd->add_option("--rates", b->rates,
                  "Open-loop rates in events/s, instead of --loads (latency); one rate for all "
                  "rows (sustained, raw)")
      ->delimiter(',')
      ->check(CLI::Range(1.0, 1e8));
  cmd->add_option("--seconds", b->seconds, "Length of each open-loop run (latency)")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 3600.0));
  cmd->add_option("--db", b->db,
                  "Database of the outbox scenario: sqlite:PATH (created and removed if missing) "
                  "or postgresql://...; it must hold no pending rows but the bench's");
  cmd->add_option("--batch", b->batch, "Rows the relay publishes per round (outbox)")
      ->capture_default_str()
      ->check(CLI::Range(1, 100'000));
  cmd->add_option("--json", b->json_file, "Also write the results as JSON to FILE");
  cmd->add_option("--plot", b->plot_dir, "Write SVG charts and report.md into DIR");
  b->connection.Add(cmd);
  cmd->callback([&run, b, cmd] {
    const bool outbox = b->scenario == "outbox";
    if (outbox && b->db.empty()) {
      throw CLI::ValidationError("--db",
                                 "bench outbox needs a database: sqlite:PATH or postgresql://...");
    }
    if (!outbox && (cmd->count("--db") > 0 || cmd->count("--batch") > 0)) {
      throw CLI::ValidationError("--db/--batch", "only apply to bench outbox");
    }
    // The outbox's own defaults: rows as a service writes them, small and
    // spread over fewer aggregates than the broker scenarios use.
    if (outbox && cmd->count("--aggregates") == 0) b->aggregates = 1'000;
    if (outbox && cmd->count("--payload-bytes") == 0) b->payload_bytes = 100;
    run = [b] { return Run(*b); };
  });
}

}  // namespace evbus::cli
