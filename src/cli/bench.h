// evbus bench: the scenarios, and the report every scenario fills: one row
// per measured run, printed as a table as it completes, and written as JSON
// (--json FILE) and plots (--plot DIR) at the end.

#ifndef EVBUS_CLI_BENCH_H_
#define EVBUS_CLI_BENCH_H_

#include <string>
#include <vector>

#include "cli/config_flags.h"
#include "cli/workload.h"

namespace evbus::cli {

struct BenchOptions {
  std::string scenario = "sustained";
  ConnectionFlags connection;
  int64_t events = 0;  // 0: the scenario's default
  int aggregates = 100'000;
  int payload_bytes = 256;
  int partitions = 8;
  int workers = 0;
  std::string orderings = "per_key,per_partition,none";
  int handler_sleep_us = 1000;
  std::vector<int64_t> sizes = {500, 2'000, 5'000, 10'000};  // seed
  int reps = 0;  // repetitions; 0: the scenario's default (lifecycle 5, seed 1)
  // seed: repetitions run first and not counted; -1: 1 when reps > 1, else 0.
  int warmup_reps = -1;
  std::vector<int> loads = {25, 50, 75};  // latency: percent of the closed-loop maximum
  std::vector<double> rates;  // latency: absolute rates instead (events/s); sustained, raw: one
  double seconds = 10;        // latency: length of each open-loop run
  std::string json_file;
  std::string plot_dir;
  std::string db;    // outbox: the database URL (sqlite:PATH, postgresql://...)
  int batch = 1000;  // outbox: the relay's rows per round (OutboxRelayOptions::batch_size)
};

struct BenchRow {
  std::string name;
  bool baseline = false;  // the transport or its client alone
  std::string workload;   // the run's parameters, a JSON object
  double rate = 0;        // open loop: the offered load, events/s; 0 closed loop
  WorkloadResult result;
  long rss_before_kb = 0;  // current RSS just before and after the run
  long rss_after_kb = 0;
  // HeapInUseBytes() after the run, less what the report itself keeps of
  // this and earlier runs (their rows): the heap the buses left behind.
  long heap_after_kb = 0;
};

class BenchReport {
 public:
  BenchReport(std::string scenario, std::string transport)
      : scenario_(std::move(scenario)), transport_(std::move(transport)) {}

  // Runs `o` through evbus (or the baseline of its transport), with a
  // progress line on a terminal; prints and keeps the row. False on error
  // (printed).
  bool Run(const std::string& name, const WorkloadOptions& o, bool baseline);
  // Prints and keeps a row a scenario measured itself (outbox).
  void Add(BenchRow row);
  // Room for `n` rows, so that the row vector's growth does not show in
  // heap_after_kb (lifecycle: one row per repetition).
  void Reserve(size_t n) { rows_.reserve(n); }
  // Prints a line under the table and keeps it for the Markdown report.
  void Note(const std::string& line);
  // While on, Run prints its rows marked "warm-up" and keeps none of them.
  void SetWarmingUp(bool on) { warming_up_ = on; }

  const std::string& scenario() const { return scenario_; }
  const std::string& transport() const { return transport_; }
  const std::vector<BenchRow>& rows() const { return rows_; }
  const std::vector<std::string>& notes() const { return notes_; }
  // True when every run received all it sent, in order, without duplicates.
  bool clean() const;

  // The rows as one JSON document: {"scenario", "transport", "runs": [...],
  // "totals": {...}} where totals are sums over the runs.
  std::string ToJson() const;
  std::string ToMarkdown() const;

 private:
  void PrintHeaderOnce();  // the table's header, before the first row or run

  std::string scenario_, transport_;
  bool header_printed_ = false;
  bool warming_up_ = false;
  std::vector<BenchRow> rows_;
  std::vector<std::string> notes_;
  size_t kept_bytes_ = 0;  // heap held by rows_' contents
};

// Each prints its rows into `report`; false if a run failed.
bool RunSustained(const BenchOptions& b, WorkloadOptions base, BenchReport& report);
bool RunKeyed(const BenchOptions& b, WorkloadOptions base, BenchReport& report);
bool RunSeed(const BenchOptions& b, WorkloadOptions base, BenchReport& report);
bool RunLifecycle(const BenchOptions& b, WorkloadOptions base, BenchReport& report);
bool RunLatency(const BenchOptions& b, WorkloadOptions base, BenchReport& report);
bool RunRawOnly(const BenchOptions& b, WorkloadOptions base, BenchReport& report);
bool RunOutbox(const BenchOptions& b, WorkloadOptions base, BenchReport& report);

// Writes latency.svg, throughput.svg, threads.svg (and, for open-loop runs,
// load.svg: latency against offered load) and report.md into `dir`
// (created if missing). Errors: InvalidArgument naming the file that could
// not be written.
Status WritePlots(const std::string& dir, const BenchReport& report);

}  // namespace evbus::cli

#endif  // EVBUS_CLI_BENCH_H_
