// bench seed: the workload the seed's authors measured their Go bus with -
// 500 / 2000 / 5000 / 10000 messages over 5 topics, aggregates = clamp(N/10,
// 50, 1000), envelopes and plain records, order checked per aggregate - each
// size beside the transport alone.

#include <algorithm>
#include <cstdio>

#include "cli/bench.h"

namespace evbus::cli {

bool RunSeed(const BenchOptions& b, WorkloadOptions base, BenchReport& report) {
  report.Note("seed: N events over 5 topics, aggregates = clamp(N/10, 50, 1000), transport " +
              report.transport());
  base.topics = 5;
  base.threads_after_2s = true;  // as jxt-core's tests counted them, beside the exact count
  bool ok = true;
  const std::string run_id = RunSuffix();
  for (const int64_t n : b.sizes) {
    WorkloadOptions o = base;
    o.events = n;
    o.aggregates = static_cast<int>(std::clamp<int64_t>(n / 10, 50, 1000));
    const std::string size = std::to_string(n);
    o.topic = "bench-seed-" + size + run_id;
    o.config.subscriber.group = o.topic;
    ok &= report.Run("seed " + size + " envelope", o, false);
    o.envelopes = false;
    o.topic += "-plain";
    o.config.subscriber.group = o.topic;
    ok &= report.Run("seed " + size + " plain", o, false);
    o.topic += "-baseline";
    o.config.subscriber.group = o.topic;
    ok &= report.Run("seed " + size + " plain, transport alone", o, true);
  }
  return ok;
}

}  // namespace evbus::cli
