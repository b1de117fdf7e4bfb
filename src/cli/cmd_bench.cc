// evbus bench: measured scenarios, each beside a baseline from the same run.
//   sustained  N events of S bytes over K aggregates and P partitions, for each
//              ordering, envelopes and raw records, beside the transport alone
//   keyed      one partition, many keys, a handler that sleeps, W workers:
//              per_key against per_partition (ordering by key lifts the
//              partition limit)

#include <chrono>
#include <cstdio>
#include <thread>

#include "cli/commands.h"
#include "cli/config_flags.h"
#include "cli/workload.h"

namespace evbus::cli {
namespace {

struct BenchOptions {
  std::string scenario = "sustained";
  std::string config_file;
  int64_t events = 1'000'000;
  int aggregates = 100'000;
  int payload_bytes = 256;
  int partitions = 8;
  int workers = 0;
  std::string orderings = "per_key,per_partition,none";
  int handler_sleep_us = 1000;
};

void PrintHeader() {
  std::printf("%-28s %10s %12s %9s %9s %9s %9s %5s %5s %5s %7s %8s %8s\n", "run", "events", "msg/s",
              "p50 us", "p99 us", "p99.9 us", "max us", "viol", "dup", "lost", "threads", "RSS MiB",
              "close ms");
}

void PrintRow(const std::string& name, const WorkloadResult& r) {
  std::printf("%-28s %10lld %12.0f %9.1f %9.1f %9.1f %9.1f %5lld %5lld %5lld %7zu %8.1f %8.2f\n",
              name.c_str(), static_cast<long long>(r.received), r.throughput, r.p50_us, r.p99_us,
              r.p999_us, r.max_us, static_cast<long long>(r.violations),
              static_cast<long long>(r.duplicates), static_cast<long long>(r.lost),
              r.threads_running, static_cast<double>(r.peak_rss_kb) / 1024.0, r.close_ms);
  std::fflush(stdout);
}

std::vector<Ordering> ParseOrderings(const std::string& list) {
  std::vector<Ordering> out;
  size_t pos = 0;
  while (pos <= list.size()) {
    const size_t comma = std::min(list.find(',', pos), list.size());
    const std::string item = list.substr(pos, comma - pos);
    if (item == "per_key") out.push_back(Ordering::kPerKey);
    if (item == "per_partition") out.push_back(Ordering::kPerPartition);
    if (item == "none") out.push_back(Ordering::kNone);
    pos = comma + 1;
  }
  return out;
}

bool Run1(const std::string& name, const WorkloadOptions& o, bool raw_baseline) {
  Result<WorkloadResult> r = raw_baseline ? RunRawBaseline(o) : RunWorkload(o);
  if (!r.ok()) {
    std::fprintf(stderr, "evbus bench: %s: %s\n", name.c_str(), r.status().ToString().c_str());
    return false;
  }
  PrintRow(name, *r);
  return true;
}

int RunSustained(const BenchOptions& b, WorkloadOptions base) {
  base.config.memory.partitions = b.partitions;
  // Retention sized so the closed-loop producer never outruns it.
  base.config.memory.retention_records =
      std::max<int64_t>(10'000, 2 * base.max_outstanding / b.partitions + 1000);
  std::printf(
      "sustained: %lld events of %d bytes, %d aggregates, %d partitions, %d workers, "
      "transport %s\n",
      static_cast<long long>(b.events), b.payload_bytes, b.aggregates,
      base.config.transport == TransportKind::kKafka  ? base.config.kafka.topic_partitions
      : base.config.transport == TransportKind::kNats ? base.config.nats.partitions
                                                      : b.partitions,
      base.config.subscriber.workers > 0 ? base.config.subscriber.workers
                                         : static_cast<int>(std::thread::hardware_concurrency()),
      std::string(ToString(base.config.transport)).c_str());
  PrintHeader();
  bool ok = true;
  int run = 0;
  // Kafka and NATS keep topics and offsets: every bench run uses new ones.
  const std::string run_id =
      "-" + std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count());
  for (Ordering ordering : ParseOrderings(b.orderings)) {
    WorkloadOptions o = base;
    o.ordering = ordering;
    o.topic = "bench-sustained-" + std::to_string(run++) + run_id;
    o.config.subscriber.group = o.topic;
    ok &= Run1("evbus envelope " + std::string(ToString(ordering)), o, false);
    o.envelopes = false;
    o.topic += "-raw";
    o.config.subscriber.group = o.topic;
    ok &= Run1("evbus record " + std::string(ToString(ordering)), o, false);
  }
  WorkloadOptions raw = base;
  raw.topic = "bench-sustained-baseline" + run_id;
  raw.config.subscriber.group = raw.topic;
  const std::string client =
      base.config.transport == TransportKind::kKafka ? "librdkafka" : "transport";
  ok &= Run1(client + " alone, envelope", raw, true);
  raw.envelopes = false;
  raw.topic += "-raw";
  raw.config.subscriber.group = raw.topic;
  ok &= Run1(client + " alone, record", raw, true);
  return ok ? kExitOk : kExitRuntime;
}

int RunKeyed(const BenchOptions& b, WorkloadOptions base) {
  base.config.memory.partitions = 1;
  base.config.subscriber.window =
      std::max(base.config.subscriber.window, 4 * base.config.subscriber.workers);
  base.handler_sleep = std::chrono::microseconds(b.handler_sleep_us);
  const int workers = base.config.subscriber.workers;
  const double ideal = workers * 1e6 / b.handler_sleep_us;
  std::printf(
      "keyed: %lld events, 1 partition, %d keys, %d workers, handler sleeps %d us; "
      "ideal %.0f msg/s\n",
      static_cast<long long>(b.events), b.aggregates, workers, b.handler_sleep_us, ideal);
  PrintHeader();
  bool ok = true;
  for (Ordering ordering : {Ordering::kPerKey, Ordering::kPerPartition}) {
    WorkloadOptions o = base;
    o.ordering = ordering;
    o.topic = std::string("bench-keyed-") + std::string(ToString(ordering)) + "-" +
              std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count());
    o.config.subscriber.group = o.topic;
    Result<WorkloadResult> r = RunWorkload(o);
    if (!r.ok()) {
      std::fprintf(stderr, "evbus bench: %s\n", r.status().ToString().c_str());
      return kExitRuntime;
    }
    PrintRow("evbus " + std::string(ToString(ordering)), *r);
    std::printf("%-28s %.2f x ideal\n", "", r->throughput / ideal);
    ok &= r->lost == 0;
  }
  return ok ? kExitOk : kExitRuntime;
}

}  // namespace

void RegisterBench(CLI::App& app, Action& run) {
  auto b = std::make_shared<BenchOptions>();
  CLI::App* cmd = app.add_subcommand(
      "bench",
      "Run a measured scenario and print throughput (at receive completion), end-to-end "
      "latency, ordering checks, threads and memory, beside a baseline of the transport alone.\n"
      "Examples:\n  evbus bench sustained --events 10000000 --aggregates 100000\n"
      "  evbus bench keyed --events 200000 --aggregates 10000 --workers 64\n");
  cmd->add_option("scenario", b->scenario, "sustained | keyed")
      ->capture_default_str()
      ->check(CLI::IsMember({"sustained", "keyed"}));
  cmd->add_option("--events", b->events, "Events to publish")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1'000'000'000}));
  cmd->add_option("--aggregates", b->aggregates, "Distinct aggregate ids (keys)")
      ->capture_default_str()
      ->check(CLI::Range(1, 10'000'000));
  cmd->add_option("--payload-bytes", b->payload_bytes, "Payload size")
      ->capture_default_str()
      ->check(CLI::Range(16, 1 << 20));
  cmd->add_option("--partitions", b->partitions, "Partitions (sustained)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--workers", b->workers, "Worker threads (0 = hardware; keyed default 64)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1024));
  cmd->add_option("--orderings", b->orderings, "Orderings to run (sustained)")
      ->capture_default_str();
  cmd->add_option("--handler-sleep-us", b->handler_sleep_us, "Handler cost (keyed)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1'000'000));
  cmd->add_option("--config", b->config_file, "YAML configuration file")->check(CLI::ExistingFile);
  cmd->callback([&run, b] {
    run = [b] {
      WorkloadOptions o;
      o.events = b->events;
      o.aggregates = b->aggregates;
      o.payload_bytes = b->payload_bytes;
      o.config.subscriber.workers = b->workers;
      if (b->scenario == "keyed" && b->workers == 0) o.config.subscriber.workers = 64;
      if (Status s = LoadCliConfig(b->config_file, o.config); !s.ok()) {
        std::fprintf(stderr, "evbus bench: %s\n", s.ToString().c_str());
        return kExitRuntime;
      }
      return b->scenario == "keyed" ? RunKeyed(*b, o) : RunSustained(*b, o);
    };
  });
}

}  // namespace evbus::cli
