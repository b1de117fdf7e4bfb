// evbus census: runs the seed's lifecycle (start, create, subscribe, load,
// close) on the chosen transport and prints the threads by owner at each
// phase, then the threads left behind, counted the moment close returned.

#include <cstdio>

#include "cli/census_table.h"
#include "cli/commands.h"
#include "cli/config_flags.h"
#include "cli/workload.h"

namespace evbus::cli {
namespace {

struct CensusOptions {
  ConnectionFlags connection;
  int64_t events = 2'000;
  int aggregates = 200;
  int workers = 0;
};

int Run(const CensusOptions& c) {
  WorkloadOptions o;
  o.config.subscriber.workers = c.workers;
  if (!LoadOrPrint(c.connection, "census", o.config)) return kExitUsage;
  o.events = c.events;
  o.aggregates = c.aggregates;
  o.census_phases = true;
  o.topic = "evbus-census" + RunSuffix();
  o.config.subscriber.group = o.topic;
  std::printf("census: %lld envelopes over %d aggregates on transport %s\n",
              static_cast<long long>(o.events), o.aggregates,
              std::string(ToString(o.config.transport)).c_str());
  Result<WorkloadResult> r = RunWorkload(o);
  if (!r.ok()) {
    std::fprintf(stderr, "evbus census: %s\n", r.status().ToString().c_str());
    return kExitRuntime;
  }
  PrintCensusTable(r->phases);
  std::printf("\nreceived %lld of %lld; consumer close %.2f ms\n",
              static_cast<long long>(r->received), static_cast<long long>(r->published),
              r->close_ms);
  const std::vector<ThreadInfo> leaked = LeakedThreads(r->phases);
  std::printf("leaked: %zu\n", leaked.size());
  for (const ThreadInfo& t : leaked) {
    std::printf("  tid %d %s owner %s bus %llu\n", t.tid, t.name.c_str(), t.component.c_str(),
                static_cast<unsigned long long>(t.bus_id));
  }
  return leaked.empty() && r->lost == 0 ? kExitOk : kExitRuntime;
}

}  // namespace

void RegisterCensus(CLI::App& app, Action& run) {
  auto c = std::make_shared<CensusOptions>();
  CLI::App* cmd = app.add_subcommand(
      "census",
      "Run the seed's lifecycle - start, create (a producer and a consumer bus), subscribe, "
      "load, close - and print the process's threads by owner at each phase. The last line is "
      "`leaked: N`, counted the moment both buses' close returned (no sleep), followed by each "
      "leaked thread and its owner. Exit code 1 if a thread leaked or a message was lost.");
  cmd->footer(
      "Examples:\n"
      "  evbus census\n"
      "  evbus census --brokers 127.0.0.1:9092 --events 10000\n"
      "  evbus census --url nats://127.0.0.1:4222 --workers 4");
  cmd->add_option("--events", c->events, "Envelopes published during the load phase")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{100'000'000}));
  cmd->add_option("--aggregates", c->aggregates, "Distinct aggregate ids")
      ->capture_default_str()
      ->check(CLI::Range(1, 10'000'000));
  cmd->add_option("--workers", c->workers, "Worker threads (0 = hardware threads)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1024));
  c->connection.Add(cmd);
  cmd->callback([&run, c] { run = [c] { return Run(*c); }; });
}

}  // namespace evbus::cli
