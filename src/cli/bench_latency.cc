// bench latency: end-to-end latency against offered load, open loop. First
// evbus's closed-loop maximum on this transport (envelopes, per_key, --events);
// then, at each of --loads percent of it (or at the absolute --rates), evbus
// and the transport's client alone publish at that fixed rate for --seconds.
// Event i is due at start + i / rate and its latency counts from then, so a
// publisher held up by the bus does not hide the wait (coordinated omission).

#include <cstdio>

#include "cli/bench.h"

namespace evbus::cli {
namespace {

std::string RateName(double rate) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.0f/s", rate);
  return text;
}

}  // namespace

bool RunLatency(const BenchOptions& b, WorkloadOptions base, BenchReport& report) {
  base.config.memory.partitions = b.partitions;
  // Room for what the publisher may have outstanding, and no more: a broker
  // that keeps every record grows the heap all run long.
  base.config.memory.retention_records =
      std::max<int64_t>(10'000, 2 * base.max_outstanding / b.partitions + 1000);
  const std::string run_id = RunSuffix();
  std::vector<double> rates(b.rates.begin(), b.rates.end());
  if (rates.empty()) {
    WorkloadOptions probe = base;
    probe.topic = "bench-latency-max" + run_id;
    probe.config.subscriber.group = probe.topic;
    if (!report.Run("evbus closed loop (maximum)", probe, false)) return false;
    const double max = report.rows().back().result.throughput;
    for (const int load : b.loads) rates.push_back(max * load / 100.0);
    char line[160];
    std::snprintf(line, sizeof(line), "latency: maximum %.0f msg/s closed loop; open loop at %s%%",
                  max, CLI::detail::join(b.loads, ",").c_str());
    report.Note(line);
  }
  bool ok = true;
  for (const double rate : rates) {
    WorkloadOptions o = base;
    o.rate = rate;
    o.events = std::max<int64_t>(1, static_cast<int64_t>(rate * b.seconds));
    o.topic = "bench-latency-" + std::to_string(static_cast<int64_t>(rate)) + run_id;
    o.config.subscriber.group = o.topic;
    ok &= report.Run("evbus " + RateName(rate), o, false);
    o.topic += "-baseline";
    o.config.subscriber.group = o.topic;
    ok &= report.Run("client alone " + RateName(rate), o, true);
    if (!ok) break;
    const WorkloadResult& bus = report.rows()[report.rows().size() - 2].result;
    const WorkloadResult& raw = report.rows().back().result;
    char line[200];
    std::snprintf(line, sizeof(line),
                  "at %s: evbus p50 %.2f ms, p99 %.2f ms, p99.99 %.2f ms; client alone p50 %.2f "
                  "ms, p99 %.2f ms, p99.99 %.2f ms",
                  RateName(rate).c_str(), bus.p50_us / 1e3, bus.p99_us / 1e3, bus.p9999_us / 1e3,
                  raw.p50_us / 1e3, raw.p99_us / 1e3, raw.p9999_us / 1e3);
    report.Note(line);
  }
  return ok;
}

}  // namespace evbus::cli
