#include <algorithm>
#include <cstdio>

#include "cli/bench.h"
#include "cli/bench_progress.h"
#include "cli/json_text.h"
#include "transport/transport.h"

namespace evbus::cli {
namespace {

// "left" is the process's threads after both closes less those before the
// buses were created: at once / 2 s later (the figure jxt-core's tests took).
constexpr const char* kHeaderFormat =
    "%-36s %10s %12s %8s %9s %9s %9s %9s %10s %5s %5s %5s %7s %6s %8s %8s\n";
constexpr const char* kRowFormat =
    "%-36s %10lld %12.0f %8.2f %9.1f %9.1f %9.1f %9.1f %10.1f %5lld %5lld %5lld %7zu %6s %8.1f "
    "%8.2f\n";

void PrintHeader() {
  std::printf(kHeaderFormat, "run", "events", "msg/s", "cpu us", "p50 us", "p99 us", "p99.9 us",
              "p99.99 us", "max us", "viol", "dup", "lost", "threads", "left", "RSS MiB",
              "close ms");
}

std::string ThreadsLeft(const BenchRow& row) {
  if (row.baseline) return "-";
  const WorkloadResult& r = row.result;
  std::string out = std::to_string(r.leaked_threads);
  if (r.leaked_threads_2s >= 0) out += "/" + std::to_string(r.leaked_threads_2s);
  return out;
}

void PrintRow(const BenchRow& row) {
  const WorkloadResult& r = row.result;
  std::printf(kRowFormat, row.name.c_str(), static_cast<long long>(r.received), r.throughput,
              r.cpu_us_per_msg, r.p50_us, r.p99_us, r.p999_us, r.p9999_us, r.max_us,
              static_cast<long long>(r.violations), static_cast<long long>(r.duplicates),
              static_cast<long long>(r.lost), r.threads_running, ThreadsLeft(row).c_str(),
              static_cast<double>(r.peak_rss_kb) / 1024.0, r.close_ms);
  std::fflush(stdout);
}

std::string PhasesJson(const std::vector<Phase>& phases) {
  std::vector<std::string> out;
  for (const Phase& p : phases) {
    JsonObject owners;
    for (const auto& [owner, n] : p.census.ByComponent()) owners.Add(owner, n);
    out.push_back(JsonObject()
                      .Add("name", p.name)
                      .Add("threads", p.census.total())
                      .Raw("by_owner", owners.str())
                      .str());
  }
  return JsonArray(out);
}

std::string WorkloadJson(const WorkloadOptions& o) {
  return JsonObject()
      .Add("events", o.events)
      .Add("aggregates", o.aggregates)
      .Add("topics", o.topics)
      .Add("payload_bytes", o.payload_bytes)
      .Add("envelopes", o.envelopes)
      .Add("ordering", std::string(ToString(o.ordering)))
      .Add("handler_sleep_us", static_cast<int64_t>(o.handler_sleep.count()))
      .Add("workers", o.config.subscriber.workers)
      .str();
}

std::string RowJson(const BenchRow& row) {
  const WorkloadResult& r = row.result;
  JsonObject latency;
  latency.Add("p50", r.p50_us).Add("p90", r.p90_us).Add("p99", r.p99_us);
  latency.Add("p999", r.p999_us).Add("p9999", r.p9999_us).Add("max", r.max_us);
  JsonObject o;
  o.Add("name", row.name).Add("baseline", row.baseline).Raw("workload", row.workload);
  o.Add("published", r.published).Add("received", r.received).Add("lost", r.lost);
  o.Add("duplicates", r.duplicates).Add("violations", r.violations);
  o.Add("publish_errors", r.publish_errors);
  o.Add("seconds", r.seconds).Add("throughput", r.throughput);
  o.Add("cpu_us_per_msg", r.cpu_us_per_msg);
  o.Raw("latency_us", latency.str());
  o.Add("peak_rss_kb", r.peak_rss_kb).Add("rss_before_kb", row.rss_before_kb);
  o.Add("rss_after_kb", row.rss_after_kb).Add("heap_after_kb", row.heap_after_kb);
  o.Add("threads_running", r.threads_running);
  o.Add("leaked_threads", r.leaked_threads).Add("close_ms", r.close_ms);
  if (r.leaked_threads_2s >= 0) o.Add("leaked_threads_2s", r.leaked_threads_2s);
  if (row.rate > 0) o.Add("rate", row.rate);
  o.Raw("phases", PhasesJson(r.phases));
  return o.str();
}

// Deletes the topics a run made. A bench makes hundreds (seed: 400 in five
// repetitions); a broker that keeps them all grows slower run by run (a
// Kafka broker with 14,000 partitions took 58 ms per produce request where a
// fresh one took 2), so later repetitions would measure the broker's load,
// and a user's cluster would be left holding them. Deletion failing does not
// fail the run: it is said once.
void DeleteRunTopics(const WorkloadOptions& o) {
  std::vector<std::string> topics = WorkloadTopics(o);
  for (size_t i = 0, n = topics.size(); i < n; ++i) {  // each one's dead-letter topic
    topics.push_back(topics[i] + o.config.subscriber.dead_letter_suffix);
  }
  Result<std::unique_ptr<transport::Transport>> t = transport::CreateTransport(o.config, 0);
  const Status s = t.ok() ? (*t)->DeleteTopics(topics) : t.status();
  static bool said = false;
  if (!s.ok() && s.code() != ErrorCode::kNotImplemented && !said) {
    std::fprintf(stderr, "evbus bench: could not delete the run's topics (%s): %s\n",
                 o.topic.c_str(), s.ToString().c_str());
    said = true;
  }
}

}  // namespace

bool BenchReport::Run(const std::string& name, const WorkloadOptions& options, bool baseline) {
  PrintHeaderOnce();
  WorkloadOptions o = options;
  o.census_phases = true;  // threads at each phase, for the JSON and the threads chart
  Progress progress(name, o.events);
  o.on_progress = [&progress](int64_t published) { progress.Update(published); };
  BenchRow row{name, baseline, WorkloadJson(o), o.rate, {}, CurrentRssKb(), 0, 0};
  Result<WorkloadResult> r = baseline ? RunRawBaseline(o) : RunWorkload(o);
  row.rss_after_kb = CurrentRssKb();
  DeleteRunTopics(o);
  if (!r.ok()) {
    std::fprintf(stderr, "evbus bench: %s: %s\n", name.c_str(), r.status().ToString().c_str());
    return false;
  }
  row.result = std::move(r).value();
  if (warming_up_) {
    row.name = "warm-up: " + row.name;
    PrintRow(row);
    return true;
  }
  Add(std::move(row));
  return true;
}

void BenchReport::PrintHeaderOnce() {
  if (!header_printed_) PrintHeader();
  header_printed_ = true;
}

void BenchReport::Add(BenchRow row) {
  PrintHeaderOnce();
  PrintRow(row);
  // The report keeps an exact-size copy of the row (spare vector capacity
  // would grow with every run) and counts the heap it holds, so heap_after_kb
  // leaves the report's own rows out. Counted in, a thousand lifecycle
  // repetitions showed the rows' growth (6 KiB each) as the buses'.
  const size_t before_copy = HeapInUseBytes();
  BenchRow kept = row;
  const size_t after_copy = HeapInUseBytes();
  kept_bytes_ += after_copy - std::min(after_copy, before_copy);
  row = BenchRow();
  const size_t heap = HeapInUseBytes();
  kept.heap_after_kb = static_cast<long>((heap - std::min(heap, kept_bytes_)) / 1024);
  rows_.push_back(std::move(kept));
}

void BenchReport::Note(const std::string& line) {
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
  notes_.push_back(line);
}

bool BenchReport::clean() const {
  for (const BenchRow& row : rows_) {
    const WorkloadResult& r = row.result;
    if (r.lost != 0 || r.violations != 0 || r.duplicates != 0 || r.publish_errors != 0) {
      return false;
    }
  }
  return true;
}

std::string BenchReport::ToJson() const {
  std::vector<std::string> runs;
  int64_t published = 0, received = 0, lost = 0, duplicates = 0, violations = 0;
  for (const BenchRow& row : rows_) {
    runs.push_back(RowJson(row));
    published += row.result.published;
    received += row.result.received;
    lost += row.result.lost;
    duplicates += row.result.duplicates;
    violations += row.result.violations;
  }
  JsonObject totals;
  totals.Add("runs", rows_.size()).Add("published", published).Add("received", received);
  totals.Add("lost", lost).Add("duplicates", duplicates).Add("violations", violations);
  return JsonObject()
             .Add("scenario", scenario_)
             .Add("transport", transport_)
             .Raw("runs", JsonArray(runs))
             .Raw("totals", totals.str())
             .Raw("notes", JsonArray([&] {
                    std::vector<std::string> quoted;
                    for (const std::string& n : notes_) quoted.push_back(JsonString(n));
                    return quoted;
                  }()))
             .str() +
         "\n";
}

std::string BenchReport::ToMarkdown() const {
  std::string md =
      "| run | events | msg/s | cpu us/msg | p50 us | p99 us | p99.9 us | p99.99 us | max us | "
      "viol | dup | lost | threads | left | RSS MiB | close ms |\n";
  md += "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n";
  char line[512];
  for (const BenchRow& row : rows_) {
    const WorkloadResult& r = row.result;
    std::snprintf(
        line, sizeof(line),
        "| %s | %lld | %.0f | %.2f | %.1f | %.1f | %.1f | %.1f | %.1f | %lld | %lld | %lld | %zu | "
        "%s | %.1f | %.2f |\n",
        row.name.c_str(), static_cast<long long>(r.received), r.throughput, r.cpu_us_per_msg,
        r.p50_us, r.p99_us, r.p999_us, r.p9999_us, r.max_us, static_cast<long long>(r.violations),
        static_cast<long long>(r.duplicates), static_cast<long long>(r.lost), r.threads_running,
        ThreadsLeft(row).c_str(), static_cast<double>(r.peak_rss_kb) / 1024.0, r.close_ms);
    md += line;
  }
  if (!notes_.empty()) md += "\n```\n";
  for (const std::string& n : notes_) md += n + "\n";
  if (!notes_.empty()) md += "```\n";
  return md;
}

}  // namespace evbus::cli
