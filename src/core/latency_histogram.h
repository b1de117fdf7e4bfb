// LatencyHistogram: a fixed-bucket latency histogram updated with relaxed
// atomics, cheap enough for the publish and consume paths (no lock, no
// allocation; one bucket add, one count add, one sum add per observation, or
// per batch with ObserveMany).
//
// Thread safety: thread-safe. A Snapshot taken while others observe may be
// off by the observations in progress (each field is read on its own).

#ifndef EVBUS_CORE_LATENCY_HISTOGRAM_H_
#define EVBUS_CORE_LATENCY_HISTOGRAM_H_

#include <array>
#include <atomic>
#include <cstdint>

namespace evbus::core {

class LatencyHistogram {
 public:
  // Upper bounds of the buckets, in nanoseconds (10us .. 10s); one more
  // bucket (+Inf) holds the rest.
  static constexpr std::array<int64_t, 18> kBoundsNs = {
      10'000,      25'000,      50'000,      100'000,       250'000,       500'000,
      1'000'000,   2'500'000,   5'000'000,   10'000'000,    25'000'000,    50'000'000,
      100'000'000, 250'000'000, 500'000'000, 1'000'000'000, 2'500'000'000, 10'000'000'000};
  static constexpr size_t kBuckets = kBoundsNs.size() + 1;

  static size_t BucketOf(int64_t ns) {
    size_t i = 0;
    while (i < kBoundsNs.size() && ns > kBoundsNs[i]) ++i;
    return i;
  }

  void Observe(int64_t ns) {
    constexpr auto r = std::memory_order_relaxed;
    buckets_[BucketOf(ns)].fetch_add(1, r);
    count_.fetch_add(1, r);
    sum_ns_.fetch_add(static_cast<uint64_t>(ns < 0 ? 0 : ns), r);
  }

  // Adds a batch counted by the caller (bucket counts, their total and sum).
  void Add(const std::array<uint64_t, kBuckets>& buckets, uint64_t count, uint64_t sum_ns) {
    constexpr auto r = std::memory_order_relaxed;
    for (size_t i = 0; i < kBuckets; ++i) {
      if (buckets[i] != 0) buckets_[i].fetch_add(buckets[i], r);
    }
    count_.fetch_add(count, r);
    sum_ns_.fetch_add(sum_ns, r);
  }

  struct Snapshot {
    std::array<uint64_t, kBuckets> buckets{};  // not cumulative
    uint64_t count = 0;
    uint64_t sum_ns = 0;
  };
  Snapshot Take() const {
    constexpr auto r = std::memory_order_relaxed;
    Snapshot s;
    for (size_t i = 0; i < kBuckets; ++i) s.buckets[i] = buckets_[i].load(r);
    s.count = count_.load(r);
    s.sum_ns = sum_ns_.load(r);
    return s;
  }

 private:
  std::array<std::atomic<uint64_t>, kBuckets> buckets_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_ns_{0};
};

}  // namespace evbus::core

#endif  // EVBUS_CORE_LATENCY_HISTOGRAM_H_
