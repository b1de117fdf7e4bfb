// Backlog detection: the board the consumer loop posts its samples to, and
// the detector that turns samples and publisher figures into a BacklogState
// and tells when it changed.
//
// The consumer loop (the only thread that may call Consumer::Lag) samples lag
// and stalls every subscriber.backlog_interval and posts them here; the ops
// thread evaluates. Nothing here is on the per-message path.
//
// Thread safety: BacklogBoard is thread-safe; BacklogDetector is used by one
// thread (the ops thread) except last(), which is thread-safe.

#ifndef EVBUS_OPS_BACKLOG_H_
#define EVBUS_OPS_BACKLOG_H_

#include <chrono>
#include <mutex>
#include <optional>
#include <vector>

#include "core/latency_histogram.h"
#include "evbus/config.h"
#include "evbus/ops.h"

namespace evbus::ops {

class BacklogBoard {
 public:
  void Post(std::vector<PartitionBacklog> partitions);
  std::vector<PartitionBacklog> partitions() const;

 private:
  mutable std::mutex mu_;
  std::vector<PartitionBacklog> partitions_;
};

class BacklogDetector {
 public:
  explicit BacklogDetector(const Config& config);

  // Evaluates the latest partition samples and publisher figures. Returns the
  // new state when subscriber_backlog or publisher_backlog changed.
  std::optional<BacklogState> Evaluate(std::vector<PartitionBacklog> partitions,
                                       int64_t publish_in_flight,
                                       const core::LatencyHistogram::Snapshot& publish_latency);
  BacklogState last() const;

 private:
  const int64_t max_lag_;
  const int64_t max_publish_in_flight_;
  const std::chrono::nanoseconds max_publish_latency_;
  uint64_t prev_count_ = 0;  // publish latency figures at the previous check
  uint64_t prev_sum_ns_ = 0;
  mutable std::mutex mu_;
  BacklogState last_;
};

}  // namespace evbus::ops

#endif  // EVBUS_OPS_BACKLOG_H_
