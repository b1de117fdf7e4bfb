// evbus demo: one producer bus and one consumer bus on the embedded memory
// broker (or the transport of --config); many aggregates with ordered
// versions; prints throughput, end-to-end latency, order violations,
// duplicates and the thread census at each phase, ending with the threads
// left after close.

#include <chrono>
#include <cstdio>
#include <thread>

#include "cli/census_table.h"
#include "cli/commands.h"
#include "cli/config_flags.h"
#include "cli/workload.h"

namespace evbus::cli {
namespace {

int Run(const WorkloadOptions& base, const ConnectionFlags& connection) {
  WorkloadOptions o = base;
  if (!LoadOrPrint(connection, "demo", o.config)) return kExitUsage;
  // Kafka and NATS keep topics and group offsets: each run gets its own.
  const std::string run =
      o.config.transport == TransportKind::kMemory
          ? std::string()
          : "-" + std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
  o.config.subscriber.group = "evbus-demo" + run;
  o.topic = "evbus-demo-orders" + run;
  o.census_phases = true;
  const int workers = o.config.subscriber.workers > 0
                          ? o.config.subscriber.workers
                          : static_cast<int>(std::thread::hardware_concurrency());
  std::printf(
      "evbus demo: %lld envelopes of ~%d bytes over %d aggregates, transport %s, "
      "%d worker(s), ordering per_key\n",
      static_cast<long long>(o.events), o.payload_bytes, o.aggregates,
      std::string(ToString(o.config.transport)).c_str(), workers);
  Result<WorkloadResult> r = RunWorkload(o);
  if (!r.ok()) {
    std::fprintf(stderr, "evbus demo: %s\n", r.status().ToString().c_str());
    return kExitRuntime;
  }
  std::printf("\nreceived       %lld of %lld in %.3f s end to end: %.0f envelopes/s\n",
              static_cast<long long>(r->received), static_cast<long long>(r->published), r->seconds,
              r->throughput);
  std::printf(
      "latency        publish call -> handler entry: p50 %.1f us, p99 %.1f us, "
      "p99.9 %.1f us, max %.1f us\n",
      r->p50_us, r->p99_us, r->p999_us, r->max_us);
  std::printf(
      "checks         order violations %lld, duplicates %lld, lost %lld, publish "
      "errors %lld\n",
      static_cast<long long>(r->violations), static_cast<long long>(r->duplicates),
      static_cast<long long>(r->lost), static_cast<long long>(r->publish_errors));
  std::printf("memory         peak RSS %.1f MiB\n", static_cast<double>(r->peak_rss_kb) / 1024.0);
  PrintCensusTable(r->phases);
  std::printf("\nconsumer %s\nleaked threads: %lld\n", r->close_report.c_str(),
              static_cast<long long>(r->leaked_threads));
  const bool ok =
      r->lost == 0 && r->violations == 0 && r->leaked_threads == 0 && r->publish_errors == 0;
  return ok ? kExitOk : kExitRuntime;
}

}  // namespace

void RegisterDemo(CLI::App& app, Action& run) {
  auto opts = std::make_shared<WorkloadOptions>();
  auto connection = std::make_shared<ConnectionFlags>();
  auto workers = std::make_shared<int>(0);
  CLI::App* cmd = app.add_subcommand(
      "demo",
      "Run a producer bus and a consumer bus on the embedded memory broker (or the transport "
      "of --config) and report throughput, latency, ordering and the thread census.\n"
      "Examples:\n  evbus demo\n  evbus demo --events 1000000 --aggregates 100000\n");
  cmd->add_option("--events", opts->events, "Envelopes to publish")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{100'000'000}));
  cmd->add_option("--aggregates", opts->aggregates, "Distinct aggregate ids")
      ->capture_default_str()
      ->check(CLI::Range(1, 10'000'000));
  cmd->add_option("--payload-bytes", opts->payload_bytes, "Approximate payload size")
      ->capture_default_str()
      ->check(CLI::Range(16, 1 << 20));
  cmd->add_option("--workers", *workers, "Worker threads (0 = hardware threads)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1024));
  connection->Add(cmd);
  cmd->callback([&run, opts, connection, workers] {
    run = [opts, connection, workers] {
      if (*workers > 0) opts->config.subscriber.workers = *workers;
      return Run(*opts, *connection);
    };
  });
}

}  // namespace evbus::cli
