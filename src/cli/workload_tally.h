// Tally: what a workload run measures (deliveries, order, duplicates,
// latency), shared by the evbus run and the raw-client baselines, plus the
// workload's record generator.

#ifndef EVBUS_CLI_WORKLOAD_TALLY_H_
#define EVBUS_CLI_WORKLOAD_TALLY_H_

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <ctime>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "cli/log_linear_histogram.h"
#include "cli/workload.h"

namespace evbus::cli {

using Clock = std::chrono::steady_clock;

// CPU time used by this process so far, all threads.
inline double ProcessCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// The latency columns of `r` from `h` (nanoseconds): p50 .. p99.99 and max
// in microseconds, and quantiles evenly spaced in "nines" (0, 0.9, 0.99,
// 0.999, ...), so the plot shows the tail as clearly as the median.
inline void FillLatency(const LogLinearHistogram& h, WorkloadResult& r) {
  auto us = [&](double q) { return static_cast<double>(h.Quantile(q)) / 1000.0; };
  r.p50_us = us(0.50);
  r.p90_us = us(0.90);
  r.p99_us = us(0.99);
  r.p999_us = us(0.999);
  r.p9999_us = us(0.9999);
  r.max_us = static_cast<double>(h.max()) / 1000.0;
  r.latency_quantiles.clear();
  for (int step = 0; h.count() > 0 && step <= 40; ++step) {
    const double q = 1.0 - std::pow(10.0, -step / 10.0);
    r.latency_quantiles.emplace_back(q, us(q));
  }
  if (h.count() > 0) r.latency_quantiles.emplace_back(1.0, r.max_us);
}

// Everything a run measures, shared by the handler threads and the producer.
class Tally {
 public:
  explicit Tally(const WorkloadOptions& o)
      : o_(o),
        seen_(static_cast<size_t>(o.events)),
        last_(static_cast<size_t>(o.aggregates)),
        period_ns_(o.rate > 0 ? 1e9 / o.rate : 0) {}

  // Called once per delivery of event `index` of `aggregate` at `version`,
  // `latency_ns` after its publish call. Open loop (a rate), the latency is
  // taken from the event's intended send time instead, so a publisher that
  // fell behind does not hide the wait (coordinated omission).
  void Received(int64_t index, int64_t aggregate, int64_t version, int64_t latency_ns) {
    if (index < 0 || index >= o_.events || aggregate < 0 || aggregate >= o_.aggregates) {
      violations_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    if (seen_[static_cast<size_t>(index)].exchange(1, std::memory_order_relaxed) != 0) {
      duplicates_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    std::atomic<int64_t>& last = last_[static_cast<size_t>(aggregate)];
    const int64_t prev = last.load(std::memory_order_relaxed);
    if (version != prev + 1) violations_.fetch_add(1, std::memory_order_relaxed);
    if (version > prev) last.store(version, std::memory_order_relaxed);
    if (period_ns_ > 0) latency_ns = (Clock::now() - IntendedSendTime(index)).count();
    latency_.Record(latency_ns);
    const int64_t n = received_.fetch_add(1, std::memory_order_acq_rel) + 1;
    if (n == o_.events || producer_waiting_.load(std::memory_order_acquire)) {
      std::lock_guard<std::mutex> lock(mu_);
      if (n == o_.events) end_ = Clock::now();
      cv_.notify_all();
    }
  }

  // A warm-up record arrived (see PublishWarmups).
  void WarmupReceived() {
    std::lock_guard<std::mutex> lock(mu_);
    ++warmups_;
    cv_.notify_all();
  }
  // Waits until `n` warm-up records arrived, at most `timeout`.
  bool WaitForWarmups(int n, std::chrono::seconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return warmups_ >= n; });
  }

  // Producer side, before publishing event `published`: open loop, waits for
  // its intended send time (no wait when behind: the schedule does not
  // slip); then, either way, waits while too much is outstanding, which
  // only an overloaded open-loop run reaches.
  void WaitForTurn(int64_t published) {
    if (period_ns_ > 0) std::this_thread::sleep_until(IntendedSendTime(published));
    if (published - received_.load(std::memory_order_acquire) < o_.max_outstanding) return;
    std::unique_lock<std::mutex> lock(mu_);
    producer_waiting_.store(true, std::memory_order_release);
    cv_.wait_for(lock, std::chrono::seconds(30), [&] {
      return published - received_.load(std::memory_order_acquire) < o_.max_outstanding / 2;
    });
    producer_waiting_.store(false, std::memory_order_release);
  }

  // Producer side, after publishing event `published`: every ~1% of the run,
  // samples the received count for the timeline and reports progress.
  void Tick(int64_t published, Clock::time_point start, WorkloadResult& r) {
    const int64_t step = std::max<int64_t>(1, o_.events / 100);
    if (published % step != 0) return;
    r.timeline.emplace_back(std::chrono::duration<double>(Clock::now() - start).count(),
                            received_.load(std::memory_order_relaxed));
    if (o_.on_progress) o_.on_progress(published);
  }

  // Waits for the last event, at most `timeout`. Returns the receive end time.
  Clock::time_point WaitForAll(std::chrono::seconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return received_.load() >= o_.events; });
    return received_.load() >= o_.events ? end_ : Clock::now();
  }

  // The run's clock starts now (returned), and so does its CPU count.
  // Open loop, event i is due at Start() + i / rate.
  Clock::time_point Start() {
    cpu_at_start_ = ProcessCpuSeconds();
    start_ = Clock::now();
    return start_;
  }

  // After the run: `start` is what Start() returned.
  void Fill(WorkloadResult& r, Clock::time_point start, Clock::time_point end) {
    r.received = received_.load();
    // Process CPU (every thread, the in-process broker's too) per message
    // received: steadier than msg/s on a machine the broker shares.
    r.cpu_us_per_msg = r.received > 0 ? (ProcessCpuSeconds() - cpu_at_start_) * 1e6 /
                                            static_cast<double>(r.received)
                                      : 0;
    r.violations = violations_.load();
    r.duplicates = duplicates_.load();
    r.lost = std::max<int64_t>(0, o_.events - r.received);
    r.seconds = std::chrono::duration<double>(end - start).count();
    r.throughput = r.seconds > 0 ? static_cast<double>(r.received) / r.seconds : 0;
    r.timeline.emplace_back(r.seconds, r.received);
    FillLatency(latency_, r);
  }

 private:
  Clock::time_point IntendedSendTime(int64_t index) const {
    return start_ +
           std::chrono::nanoseconds(static_cast<int64_t>(static_cast<double>(index) * period_ns_));
  }

  const WorkloadOptions& o_;
  std::vector<std::atomic<uint8_t>> seen_;
  std::vector<std::atomic<int64_t>> last_;
  LogLinearHistogram latency_;
  const double period_ns_;  // open loop: ns between intended sends; 0 closed loop
  Clock::time_point start_{};
  std::atomic<int64_t> received_{0}, violations_{0}, duplicates_{0};
  std::atomic<bool> producer_waiting_{false};
  double cpu_at_start_ = 0;  // ProcessCpuSeconds() at Start()
  std::mutex mu_;
  std::condition_variable cv_;
  Clock::time_point end_{};
  int warmups_ = 0;  // guarded by mu_
};

// Before the measured run, one warm-up record per partition of each topic
// goes through `send` and the run waits for all of them to be handled: the
// consumer has joined its group and reads every partition, the producer has
// its metadata (and, on Kafka, its idempotence id). A long-running service
// pays for these once; a run that counted them would report start-up, not
// latency (on Kafka, a 1.3 s p99 at 100 msg/s). Errors: Timeout when nothing
// came back in 60 s.
Status PublishWarmups(const WorkloadOptions& o, Tally& tally,
                      const std::function<Status(Record& r, Envelope* e)>& send);

// Event i goes to aggregate i % K as version i / K + 1; envelopes carry their
// send time in the envelope timestamp, raw records in their first 8 bytes.
Record MakeWorkloadRecord(const WorkloadOptions& o, int64_t i, Envelope* envelope_out);
// The i-th record as a raw client sends it: for envelopes, the encoded JSON
// with the headers evbus sends; otherwise the raw payload.
Result<Record> MakeEncodedRecord(const WorkloadOptions& o, int64_t i);
void TallyEnvelope(Tally& tally, const WorkloadOptions& o, const Envelope& e);
void TallyRaw(Tally& tally, const WorkloadOptions& o, const Record& r);

// The producer side of a raw baseline, as RunWorkload's: warms up (above),
// starts the run's clock (returned through `start`), then publishes event
// i = 0..N-1 through `send` (closed loop: waits while too much is
// outstanding; open loop: at the rate), sampling the threads mid-run and the
// timeline. Stops at the first record that cannot be made and returns why.
// Warm-up records are sent with i = -1.
Status PublishRawWorkload(const WorkloadOptions& o, Tally& tally, WorkloadResult& result,
                          Clock::time_point& start,
                          const std::function<void(int64_t i, Record& r)>& send);

}  // namespace evbus::cli

#endif  // EVBUS_CLI_WORKLOAD_TALLY_H_
