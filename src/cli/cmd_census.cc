// evbus census: runs the seed's lifecycle (start, create, subscribe, load,
// close) on the chosen transport and prints the threads by owner at each
// phase, then the threads left behind, counted the moment close returned.

#include <cstdio>
#include <vector>

#include "cli/bench_progress.h"
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
  int cycles = 1;
};

void PrintLeaked(const std::vector<ThreadInfo>& leaked) {
  for (const ThreadInfo& t : leaked) {
    std::printf("  tid %d %s owner %s bus %llu\n", t.tid, t.name.c_str(), t.component.c_str(),
                static_cast<unsigned long long>(t.bus_id));
  }
}

int Run(const CensusOptions& c) {
  WorkloadOptions o;
  o.config.subscriber.workers = c.workers;
  if (!LoadOrPrint(c.connection, "census", o.config)) return kExitUsage;
  o.events = c.events;
  o.aggregates = c.aggregates;
  o.census_phases = true;
  const std::string topic = "evbus-census" + RunSuffix();
  std::printf("census: %lld envelopes over %d aggregates on transport %s, %d cycle%s\n",
              static_cast<long long>(o.events), o.aggregates,
              std::string(ToString(o.config.transport)).c_str(), c.cycles,
              c.cycles == 1 ? "" : "s");
  std::fflush(stdout);
  Progress progress("census", c.cycles, "cycles");
  std::vector<ThreadInfo> leaked;
  int64_t lost = 0;
  // After each cycle, its buses and results gone: what a leak would grow.
  std::vector<long> rss_kb, heap_kb;
  for (int cycle = 1; cycle <= c.cycles; ++cycle) {
    {
      o.topic = c.cycles == 1 ? topic : topic + "-" + std::to_string(cycle);
      o.config.subscriber.group = o.topic;
      Result<WorkloadResult> r = RunWorkload(o);
      if (!r.ok()) {
        std::fprintf(stderr, "evbus census: cycle %d: %s\n", cycle, r.status().ToString().c_str());
        return kExitRuntime;
      }
      if (cycle == 1) {
        PrintCensusTable(r->phases);
        std::printf("\nreceived %lld of %lld; consumer close %.2f ms\n",
                    static_cast<long long>(r->received), static_cast<long long>(r->published),
                    r->close_ms);
      }
      lost += r->lost;
      std::vector<ThreadInfo> left = LeakedThreads(r->phases);
      if (!left.empty() && c.cycles > 1) {
        std::printf("cycle %d left %zu threads:\n", cycle, left.size());
        PrintLeaked(left);
      }
      leaked.insert(leaked.end(), left.begin(), left.end());
    }
    rss_kb.push_back(CurrentRssKb());
    heap_kb.push_back(static_cast<long>(HeapInUseBytes() / 1024));
    progress.Update(cycle);
  }
  if (c.cycles >= 4) {
    // Over the second half, after the first cycles' one-time allocations: a
    // leak grows the heap in use by about the same amount every cycle; memory
    // the allocator keeps grows the RSS only, and levels off.
    const size_t mid = rss_kb.size() / 2, last = rss_kb.size() - 1;
    const double cycles = static_cast<double>(last - mid);
    std::printf(
        "RSS after cycle 1: %.1f MiB, after cycle %zu: %.1f MiB; growth per cycle over cycles "
        "%zu -> %zu: RSS %+.1f KiB, heap in use %+.1f KiB\n",
        static_cast<double>(rss_kb[0]) / 1024.0, last + 1,
        static_cast<double>(rss_kb[last]) / 1024.0, mid + 1, last + 1,
        static_cast<double>(rss_kb[last] - rss_kb[mid]) / cycles,
        static_cast<double>(heap_kb[last] - heap_kb[mid]) / cycles);
  }
  std::printf("leaked: %zu\n", leaked.size());
  if (c.cycles == 1) PrintLeaked(leaked);
  return leaked.empty() && lost == 0 ? kExitOk : kExitRuntime;
}

}  // namespace

void RegisterCensus(CLI::App& app, Action& run) {
  auto c = std::make_shared<CensusOptions>();
  CLI::App* cmd = app.add_subcommand(
      "census",
      "Run the seed's lifecycle - start, create (a producer and a consumer bus), subscribe, "
      "load, close - and print the process's threads by owner at each phase. The last line is "
      "`leaked: N`, counted the moment both buses' close returned (no sleep), followed by each "
      "leaked thread and its owner. With --cycles N the lifecycle runs N times (each cycle's "
      "leaked threads printed as they happen), and for N >= 4 a line before the last gives the "
      "RSS and heap growth per cycle over the second half. Exit code 1 if a thread leaked or a "
      "message was lost.");
  cmd->footer(
      "Examples:\n"
      "  evbus census\n"
      "  evbus census --brokers 127.0.0.1:9092 --events 10000\n"
      "  evbus census --url nats://127.0.0.1:4222 --workers 4\n"
      "  evbus census --cycles 1000 --events 1000");
  cmd->add_option("--events", c->events, "Envelopes published during the load phase")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{100'000'000}));
  cmd->add_option("--aggregates", c->aggregates, "Distinct aggregate ids")
      ->capture_default_str()
      ->check(CLI::Range(1, 10'000'000));
  cmd->add_option("--workers", c->workers, "Worker threads (0 = hardware threads)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1024));
  cmd->add_option("--cycles", c->cycles, "Times to run the lifecycle, in one process")
      ->capture_default_str()
      ->check(CLI::Range(1, 1'000'000));
  c->connection.Add(cmd);
  cmd->callback([&run, c] { run = [c] { return Run(*c); }; });
}

}  // namespace evbus::cli
