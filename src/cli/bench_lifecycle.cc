// bench lifecycle: create -> subscribe -> load -> close, R times. Prints per
// repetition the close time, the threads at each phase and the RSS before
// and after, then whether threads and memory stayed flat across repetitions.

#include <cstdio>

#include "cli/bench.h"

namespace evbus::cli {

bool RunLifecycle(const BenchOptions& b, WorkloadOptions base, BenchReport& report) {
  base.census_phases = true;
  base.aggregates =
      static_cast<int>(std::min<int64_t>(base.aggregates, std::max<int64_t>(1, base.events / 10)));
  char line[256];
  std::snprintf(line, sizeof(line),
                "lifecycle: %d repetitions of %lld envelopes over %d aggregates, transport %s",
                b.reps, static_cast<long long>(base.events), base.aggregates,
                report.transport().c_str());
  report.Note(line);
  const std::string run_id = RunSuffix();
  report.Reserve(static_cast<size_t>(b.reps));
  for (int rep = 1; rep <= b.reps; ++rep) {
    WorkloadOptions o = base;
    o.topic = "bench-lifecycle-" + std::to_string(rep) + run_id;
    o.config.subscriber.group = o.topic;
    if (!report.Run("lifecycle rep " + std::to_string(rep), o, false)) return false;
  }
  report.Note("");
  report.Note(
      "rep   close ms  threads: start create subscribe   load  close   RSS MiB before "
      "after   heap MiB");
  bool flat = true;
  const std::vector<BenchRow>& rows = report.rows();
  for (size_t i = 0; i < rows.size(); ++i) {
    const WorkloadResult& r = rows[i].result;
    std::string threads;
    for (const Phase& p : r.phases) {
      std::snprintf(line, sizeof(line), " %6zu", p.census.total());
      threads += line;
    }
    std::snprintf(line, sizeof(line), "%3zu %10.2f %s %13.1f %6.1f %10.1f", i + 1, r.close_ms,
                  threads.c_str(), static_cast<double>(rows[i].rss_before_kb) / 1024.0,
                  static_cast<double>(rows[i].rss_after_kb) / 1024.0,
                  static_cast<double>(rows[i].heap_after_kb) / 1024.0);
    report.Note(line);
    flat &= r.leaked_threads == 0;
  }
  // The first repetition pays for one-time allocations (arenas, the broker's
  // first topics); growth after it is what a leak would look like.
  const long growth_kb = rows.size() > 1 ? rows.back().rss_after_kb - rows[1].rss_after_kb : 0;
  std::snprintf(line, sizeof(line),
                "threads after close = threads at start in every repetition: %s; RSS after "
                "repetition 2 -> %zu: %+.1f MiB",
                flat ? "yes" : "NO", rows.size(), static_cast<double>(growth_kb) / 1024.0);
  report.Note(line);
  // Growth per cycle over the second half: after the warm-up, a leak grows
  // the heap in use by about the same amount every cycle; memory the
  // allocator keeps grows the RSS only, and levels off.
  if (rows.size() >= 4) {
    const size_t mid = rows.size() / 2, last = rows.size() - 1;
    const double cycles = static_cast<double>(last - mid);
    std::snprintf(line, sizeof(line),
                  "growth per cycle over repetitions %zu -> %zu: RSS %+.1f KiB, heap in use "
                  "%+.1f KiB",
                  mid + 1, last + 1,
                  static_cast<double>(rows[last].rss_after_kb - rows[mid].rss_after_kb) / cycles,
                  static_cast<double>(rows[last].heap_after_kb - rows[mid].heap_after_kb) / cycles);
    report.Note(line);
  }
  return flat;
}

}  // namespace evbus::cli
