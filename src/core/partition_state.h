// PartitionState: the commit frontier and in-flight accounting of one
// assigned partition.
//
// The consumer loop tracks every record it dispatches (in offset order);
// workers settle them in any order. The committable offset only advances over
// the contiguous prefix of settled records, so a failed or abandoned record
// holds back the commit of everything after it: nothing is ever skipped.
//
// Thread safety: thread-safe.

#ifndef EVBUS_CORE_PARTITION_STATE_H_
#define EVBUS_CORE_PARTITION_STATE_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>

#include "transport/transport.h"

namespace evbus::core {

class PartitionState {
 public:
  explicit PartitionState(transport::TopicPartition tp) : tp_(std::move(tp)) {}

  const transport::TopicPartition& tp() const { return tp_; }

  // Consumer loop: records `offset` as dispatched; returns its slot.
  uint64_t Track(int64_t offset);
  // Workers: the record in `seq` is done. `settled` false means it was
  // abandoned (cancelled or dropped): it stops the frontier there.
  // Returns the number still in flight.
  int Finish(uint64_t seq, bool settled);
  // Settles `count` slots under one lock. Returns the number still in flight.
  int SettleMany(const uint64_t* seqs, size_t count);

  // The next offset to commit, if the frontier moved since the last call.
  std::optional<int64_t> TakeCommit();
  // Puts back an offset TakeCommit returned whose commit failed.
  void CommitFailed(int64_t offset);
  // The frontier (next offset to commit), -1 before anything settled.
  int64_t committable() const;
  // How far the frontier is past the last offset TakeCommit returned (all of
  // it before the first commit).
  int64_t uncommitted() const;

  // Sequentially consistent, as the decrements: the consumer loop's
  // backpressure re-read depends on it (ConsumerLoop::OnReleased).
  int in_flight() const { return in_flight_.load(std::memory_order_seq_cst); }
  // Waits until nothing is in flight or `deadline`; true when idle.
  bool WaitIdle(std::chrono::steady_clock::time_point deadline);

  // Set when the partition was revoked with work still queued: workers drop
  // (do not run) its remaining messages.
  void Abandon() { abandoned_.store(true, std::memory_order_release); }
  bool abandoned() const { return abandoned_.load(std::memory_order_acquire); }

  // Consumer loop bookkeeping for backpressure and stall detection.
  std::atomic<bool> paused{false};
  std::chrono::steady_clock::time_point last_advance = std::chrono::steady_clock::now();
  int64_t last_seen_committable = -1;

 private:
  struct Slot {
    int64_t offset;
    bool settled;
    bool abandoned;
  };
  const transport::TopicPartition tp_;
  mutable std::mutex mu_;
  std::condition_variable idle_cv_;
  std::deque<Slot> slots_;  // slots_[0] has sequence head_seq_
  uint64_t head_seq_ = 0;
  uint64_t next_seq_ = 0;
  int64_t committable_ = -1;
  int64_t last_taken_ = -1;
  std::atomic<int> in_flight_{0};
  std::atomic<bool> abandoned_{false};
};

}  // namespace evbus::core

#endif  // EVBUS_CORE_PARTITION_STATE_H_
