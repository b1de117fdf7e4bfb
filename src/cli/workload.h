// Workload: the measured run behind `evbus demo` and `evbus bench`.
//
// One producer bus publishes N events over K aggregates with ordered versions,
// either as fast as it can (closed loop: at most `max_outstanding` published
// and not yet received, so the broker's retention never drops unread
// records) or at a fixed rate (open loop); one consumer bus handles them
// under the chosen ordering. Throughput is measured at receive completion;
// latency is publish call -> handler entry, or open loop intended send time
// -> handler entry; ordering, duplicates and losses are checked per
// aggregate; threads and RSS are sampled.

#ifndef EVBUS_CLI_WORKLOAD_H_
#define EVBUS_CLI_WORKLOAD_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "evbus/evbus.h"

namespace evbus::cli {

struct WorkloadOptions {
  Config config;  // transport and engine settings
  int64_t events = 200'000;
  int aggregates = 5'000;
  int payload_bytes = 256;
  bool envelopes = true;  // false: raw records (key = aggregate id)
  Ordering ordering = Ordering::kPerKey;
  std::chrono::microseconds handler_sleep{0};  // per-message handler cost (sleep)
  int64_t max_outstanding = 200'000;
  // Events per second, open loop: event i is due at start + i / rate, and its
  // latency counts from then. 0: closed loop, as fast as possible.
  double rate = 0;
  // Also count the threads 2 s after both closes, as jxt-core's tests did
  // (the figure comparable with theirs; the exact one is counted at once).
  bool threads_after_2s = false;
  bool census_phases = false;  // record the census at each lifecycle phase
  std::string topic = "evbus-bench";
  // More than 1: topics <topic>-0 .. <topic>-(N-1), aggregate a on a % N.
  int topics = 1;
  // Called by the producer every ~1% of the events with the count published.
  std::function<void(int64_t published)> on_progress;
};

// The topics of a workload, and the one an aggregate's events go to.
std::vector<std::string> WorkloadTopics(const WorkloadOptions& options);
std::string WorkloadTopic(const WorkloadOptions& options, int64_t aggregate);
// The partitions of each workload topic, as the configured transport makes them.
int32_t WorkloadPartitions(const Config& config);

struct Phase {
  std::string name;
  Census census;
};

struct WorkloadResult {
  int64_t published = 0;
  int64_t received = 0;
  int64_t violations = 0;
  int64_t duplicates = 0;
  int64_t lost = 0;
  int64_t publish_errors = 0;
  double seconds = 0;         // first publish -> last receive
  double throughput = 0;      // received / seconds
  double cpu_us_per_msg = 0;  // process CPU, first publish -> last receive, per message
  double p50_us = 0, p90_us = 0, p99_us = 0, p999_us = 0, p9999_us = 0, max_us = 0;
  long peak_rss_kb = 0;
  size_t threads_running = 0;      // process threads sampled mid-run
  double close_ms = 0;             // consumer bus Close()
  int64_t leaked_threads = 0;      // threads right after both closes - threads before create
  int64_t leaked_threads_2s = -1;  // the same 2 s later (threads_after_2s), else -1
  std::vector<Phase> phases;
  std::string close_report;
  // For plots: (seconds since the first publish, received so far), sampled
  // at each progress tick; and (quantile, latency us) from p0 to max.
  std::vector<std::pair<double, int64_t>> timeline;
  std::vector<std::pair<double, double>> latency_quantiles;
};

// Errors: whatever creating, subscribing or starting a bus returns.
Result<WorkloadResult> RunWorkload(const WorkloadOptions& options);

// The same traffic through the memory broker's transport alone (no engine):
// the baseline evbus is compared with. Envelopes are encoded and decoded too
// when `options.envelopes`.
Result<WorkloadResult> RunRawMemory(const WorkloadOptions& options);

// The same traffic through librdkafka alone, with evbus's Kafka settings
// (only when built with the Kafka transport).
Result<WorkloadResult> RunRawKafka(const WorkloadOptions& options);

// The same traffic through cnats alone, with evbus's stream layout and
// consumer settings (only when built with the NATS transport).
Result<WorkloadResult> RunRawNats(const WorkloadOptions& options);

// The baseline for `options.config.transport`.
Result<WorkloadResult> RunRawBaseline(const WorkloadOptions& options);

// Peak resident set of this process, in KiB.
long PeakRssKb();
// Resident set of this process now, in KiB.
long CurrentRssKb();
// Bytes malloc has handed out and not had back (glibc's mallinfo2: in-use
// chunks plus mmapped blocks): what a leak grows, unlike the RSS, which also
// holds memory the allocator keeps for reuse.
size_t HeapInUseBytes();

}  // namespace evbus::cli

#endif  // EVBUS_CLI_WORKLOAD_H_
