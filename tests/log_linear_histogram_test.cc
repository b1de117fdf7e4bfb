// The bench's latency histogram: what it reports must be within its stated
// precision of the true quantile, whatever the range.

#include "cli/log_linear_histogram.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace evbus::cli {
namespace {

TEST(LogLinearHistogram, EmptyReportsZero) {
  LogLinearHistogram h;
  EXPECT_EQ(h.count(), 0);
  EXPECT_EQ(h.Quantile(0.5), 0);
  EXPECT_EQ(h.max(), 0);
}

TEST(LogLinearHistogram, SmallValuesAreExact) {
  LogLinearHistogram h;
  for (int v = 0; v < 100; ++v) h.Record(v);
  EXPECT_EQ(h.Quantile(0.0), 0);
  EXPECT_EQ(h.Quantile(0.5), 50);
  EXPECT_EQ(h.Quantile(1.0), 99);
  EXPECT_EQ(h.max(), 99);
}

TEST(LogLinearHistogram, QuantilesAreWithinOnePercentFromMicrosecondsToSeconds) {
  LogLinearHistogram h;
  // 1 us .. 10 s in 1 us steps would be 10M values; every 97 ns from 1 us to
  // 1 s exercises 20 powers of two.
  std::vector<int64_t> values;
  for (int64_t v = 1'000; v < 1'000'000'000; v += 9'973) values.push_back(v);
  for (int64_t v : values) h.Record(v);
  for (const double q : {0.5, 0.9, 0.99, 0.999, 0.9999}) {
    const int64_t truth = values[static_cast<size_t>(q * static_cast<double>(values.size()))];
    const int64_t got = h.Quantile(q);
    EXPECT_GE(got, truth) << "q " << q;  // the top of the bucket: never below
    EXPECT_LE(static_cast<double>(got), static_cast<double>(truth) * 1.008) << "q " << q;
  }
  EXPECT_EQ(h.Quantile(1.0), values.back());
  EXPECT_EQ(h.max(), values.back());
}

TEST(LogLinearHistogram, OutOfRangeValuesAreClampedNotLost) {
  LogLinearHistogram h;
  h.Record(-5);
  h.Record(int64_t{1} << 50);
  EXPECT_EQ(h.count(), 2);
  EXPECT_EQ(h.Quantile(0.0), 0);
  EXPECT_EQ(h.max(), (int64_t{1} << LogLinearHistogram::kMaxBits) - 1);
}

TEST(LogLinearHistogram, ConcurrentRecordsAreAllCounted) {
  LogLinearHistogram h;
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&h, t] {
      for (int i = 0; i < 100'000; ++i) h.Record(1'000 * (t + 1));
    });
  }
  for (std::thread& w : writers) w.join();
  EXPECT_EQ(h.count(), 400'000);
  EXPECT_EQ(h.max(), 4'000);
  EXPECT_EQ(h.Quantile(0.1), 1'000 + 3);  // the top of 1000's bucket (4 ns wide)
}

}  // namespace
}  // namespace evbus::cli
