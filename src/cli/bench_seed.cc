// bench seed: the workload the seed's authors measured their Go bus with -
// 500 / 2000 / 5000 / 10000 messages over 5 topics, aggregates = clamp(N/10,
// 50, 1000), envelopes and plain records, order checked per aggregate - each
// beside the transport alone moving the same records, --reps times, with the
// min-max of each figure over the repetitions under the table.

#include <algorithm>
#include <cstdio>
#include <map>
#include <vector>

#include "cli/bench.h"

namespace evbus::cli {
namespace {

struct Range {
  double min = 0, max = 0;
  void Add(double v, bool first) {
    min = first ? v : std::min(min, v);
    max = first ? v : std::max(max, v);
  }
};

// Over the repetitions of one row name: msg/s, p50 and p99 (ms).
struct Spread {
  int runs = 0;
  Range rate, p50, p99;
  std::vector<double> rates;  // per repetition, in order
};

void NoteSpreads(const BenchOptions& b, BenchReport& report) {
  std::map<std::string, Spread> by_name;
  std::vector<std::string> order;
  for (const BenchRow& row : report.rows()) {
    Spread& s = by_name[row.name];
    if (s.runs == 0) order.push_back(row.name);
    const bool first = s.runs++ == 0;
    s.rate.Add(row.result.throughput, first);
    s.p50.Add(row.result.p50_us / 1e3, first);
    s.p99.Add(row.result.p99_us / 1e3, first);
    s.rates.push_back(row.result.throughput);
  }
  report.Note("seed over " + std::to_string(b.reps) +
              " repetitions, min-max (msg/s at receive completion; latency publish -> handler):");
  for (const std::string& name : order) {
    const Spread& s = by_name[name];
    char line[256];
    std::snprintf(line, sizeof(line),
                  "  %-36s msg/s %8.0f - %8.0f (max/min %.2f)  p50 %7.1f - %7.1f ms  p99 %7.1f - "
                  "%7.1f ms",
                  name.c_str(), s.rate.min, s.rate.max,
                  s.rate.min > 0 ? s.rate.max / s.rate.min : 0, s.p50.min, s.p50.max, s.p99.min,
                  s.p99.max);
    report.Note(line);
  }
  // Each evbus row against the transport alone moving the same records in
  // the same repetition: the broker's own swings (GC, segment rolls) move
  // both alike, and an envelope's record (JSON and four headers) costs the
  // client itself more than a plain one, which is not evbus's cost.
  for (const int64_t n : b.sizes) {
    const std::string size = "seed " + std::to_string(n);
    for (const char* kind : {" plain", " envelope"}) {
      const Spread& bus = by_name[size + kind];
      const Spread& alone = by_name[size + kind + ", transport alone"];
      Range ratio;
      for (size_t i = 0; i < bus.rates.size() && i < alone.rates.size(); ++i) {
        if (alone.rates[i] > 0) ratio.Add(bus.rates[i] / alone.rates[i], i == 0);
      }
      char line[160];
      std::snprintf(line, sizeof(line), "  %-36s msg/s / transport alone (%s): %.2f - %.2fx",
                    (size + kind).c_str(), kind + 1, ratio.min, ratio.max);
      report.Note(line);
    }
  }
}

}  // namespace

bool RunSeed(const BenchOptions& b, WorkloadOptions base, BenchReport& report) {
  report.Note("seed: N events over 5 topics, aggregates = clamp(N/10, 50, 1000), transport " +
              report.transport());
  base.topics = 5;
  base.threads_after_2s = true;  // as jxt-core's tests counted them, beside the exact count
  // A broker's first runs are slower than its later ones (the JVM compiles
  // Kafka's hot paths as they run: 500 envelopes went 4.5k msg/s in the first
  // of five repetitions on a fresh broker, 16.7k in the fifth). A repetition
  // run first and not counted keeps that out of the spread.
  const int warmups = b.warmup_reps >= 0 ? b.warmup_reps : (b.reps > 1 ? 1 : 0);
  if (warmups > 0) {
    report.Note("seed: " + std::to_string(warmups) +
                " warm-up repetition(s) first, rows marked warm-up, not counted");
  }
  bool ok = true;
  for (int rep = -warmups; rep < b.reps; ++rep) {
    report.SetWarmingUp(rep < 0);
    const std::string run_id = RunSuffix();
    for (const int64_t n : b.sizes) {
      const std::string size = std::to_string(n);
      for (const bool envelopes : {true, false}) {
        WorkloadOptions o = base;
        o.events = n;
        o.aggregates = static_cast<int>(std::clamp<int64_t>(n / 10, 50, 1000));
        o.envelopes = envelopes;
        const std::string row = "seed " + size + (envelopes ? " envelope" : " plain");
        const std::string topic = "bench-seed-" + size + run_id + (envelopes ? "" : "-plain");
        // evbus, then the transport alone moving the same records; each on
        // topics and a group of its own.
        for (const bool alone : {false, true}) {
          o.topic = alone ? topic + "-baseline" : topic;
          o.config.subscriber.group = o.topic;
          ok &= report.Run(alone ? row + ", transport alone" : row, o, alone);
        }
      }
    }
  }
  report.SetWarmingUp(false);
  if (b.reps > 1) NoteSpreads(b, report);
  return ok;
}

}  // namespace evbus::cli
