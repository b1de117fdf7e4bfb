#include "core/partition_state.h"

namespace evbus::core {

uint64_t PartitionState::Track(int64_t offset) {
  std::lock_guard<std::mutex> lock(mu_);
  slots_.push_back(Slot{offset, false, false});
  in_flight_.fetch_add(1, std::memory_order_acq_rel);
  return next_seq_++;
}

int PartitionState::Finish(uint64_t seq, bool settled) {
  int left;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (seq >= head_seq_ && seq - head_seq_ < slots_.size()) {
      Slot& slot = slots_[seq - head_seq_];
      slot.settled = settled;
      slot.abandoned = !settled;
      // Advance over the settled prefix; an abandoned slot stops it for good.
      while (!slots_.empty() && slots_.front().settled) {
        committable_ = slots_.front().offset + 1;
        slots_.pop_front();
        ++head_seq_;
      }
    }
    left = in_flight_.fetch_sub(1, std::memory_order_seq_cst) - 1;
  }
  if (left == 0) idle_cv_.notify_all();
  return left;
}

int PartitionState::SettleMany(const uint64_t* seqs, size_t count) {
  int left;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < count; ++i) {
      const uint64_t seq = seqs[i];
      if (seq >= head_seq_ && seq - head_seq_ < slots_.size())
        slots_[seq - head_seq_].settled = true;
    }
    while (!slots_.empty() && slots_.front().settled) {
      committable_ = slots_.front().offset + 1;
      slots_.pop_front();
      ++head_seq_;
    }
    left = in_flight_.fetch_sub(static_cast<int>(count), std::memory_order_seq_cst) -
           static_cast<int>(count);
  }
  if (left == 0) idle_cv_.notify_all();
  return left;
}

std::optional<int64_t> PartitionState::TakeCommit() {
  std::lock_guard<std::mutex> lock(mu_);
  if (committable_ < 0 || committable_ == last_taken_) return std::nullopt;
  last_taken_ = committable_;
  return committable_;
}

void PartitionState::CommitFailed(int64_t offset) {
  std::lock_guard<std::mutex> lock(mu_);
  if (last_taken_ == offset) last_taken_ = -1;
}

int64_t PartitionState::committable() const {
  std::lock_guard<std::mutex> lock(mu_);
  return committable_;
}

int64_t PartitionState::uncommitted() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (committable_ < 0) return 0;
  return last_taken_ < 0 ? committable_ + 1 : committable_ - last_taken_;
}

bool PartitionState::WaitIdle(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  return idle_cv_.wait_until(lock, deadline, [&] { return in_flight_.load() == 0; });
}

}  // namespace evbus::core
