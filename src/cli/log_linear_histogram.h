// LogLinearHistogram: latencies counted in buckets whose width grows with the
// value, as HdrHistogram lays them out: every power of two [2^k, 2^(k+1)) is
// cut into 2^kSubBits equal buckets, so a recorded value is known to within
// 1/2^kSubBits of itself (0.8%) from 1 ns to an hour, and values below
// 2^kSubBits are exact. Memory is fixed whatever the count (36 KiB), so a
// bench can record every message of an open-loop run of any length and still
// read p99.99 from it. (Debian packages HdrHistogram for Go and Java only.)
//
// Thread safety: Record() is lock-free and may run on many threads at once;
// read (count, max, Quantile) after the writers are done, or accept a
// snapshot that misses the values being recorded.

#ifndef EVBUS_CLI_LOG_LINEAR_HISTOGRAM_H_
#define EVBUS_CLI_LOG_LINEAR_HISTOGRAM_H_

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstdint>
#include <memory>

namespace evbus::cli {

class LogLinearHistogram {
 public:
  static constexpr int kSubBits = 7;   // 128 buckets per power of two
  static constexpr int kMaxBits = 42;  // 2^42 ns is 73 minutes; larger values count there
  static constexpr size_t kBuckets = static_cast<size_t>(kMaxBits - kSubBits + 1) << kSubBits;

  LogLinearHistogram() : counts_(new std::atomic<int64_t>[kBuckets]()) {}

  void Record(int64_t value) {
    value = std::clamp<int64_t>(value, 0, (int64_t{1} << kMaxBits) - 1);
    counts_[Index(static_cast<uint64_t>(value))].fetch_add(1, std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_relaxed);
    int64_t seen = max_.load(std::memory_order_relaxed);
    while (value > seen && !max_.compare_exchange_weak(seen, value, std::memory_order_relaxed)) {
    }
  }

  int64_t count() const { return count_.load(std::memory_order_relaxed); }
  int64_t max() const { return max_.load(std::memory_order_relaxed); }

  // The smallest value v such that a fraction `q` (0..1) of the recorded
  // values are <= v, to the histogram's precision: the top of the bucket
  // that holds it, never above max(). 0 when empty.
  int64_t Quantile(double q) const {
    const int64_t n = count();
    if (n == 0) return 0;
    const auto rank = static_cast<int64_t>(std::clamp(q, 0.0, 1.0) * static_cast<double>(n));
    int64_t seen = 0;
    for (size_t i = 0; i < kBuckets; ++i) {
      seen += counts_[i].load(std::memory_order_relaxed);
      if (seen > rank || seen == n) return std::min(Highest(i), max());
    }
    return max();
  }

 private:
  static size_t Index(uint64_t v) {
    if (v < (uint64_t{1} << kSubBits)) return static_cast<size_t>(v);
    const int shift = std::bit_width(v) - 1 - kSubBits;  // bits below the sub-bucket
    const uint64_t sub = (v >> shift) - (uint64_t{1} << kSubBits);
    return (static_cast<size_t>(shift + 1) << kSubBits) + static_cast<size_t>(sub);
  }
  // The largest value that lands in bucket i.
  static int64_t Highest(size_t i) {
    if (i < (size_t{1} << kSubBits)) return static_cast<int64_t>(i);
    const int shift = static_cast<int>(i >> kSubBits) - 1;
    const uint64_t sub = i & ((size_t{1} << kSubBits) - 1);
    const uint64_t low = ((uint64_t{1} << kSubBits) + sub) << shift;
    return static_cast<int64_t>(low + (uint64_t{1} << shift) - 1);
  }

  std::unique_ptr<std::atomic<int64_t>[]> counts_;
  std::atomic<int64_t> count_{0};
  std::atomic<int64_t> max_{0};
};

}  // namespace evbus::cli

#endif  // EVBUS_CLI_LOG_LINEAR_HISTOGRAM_H_
