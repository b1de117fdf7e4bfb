// RateLimiter: a lock-free token bucket (GCRA: one atomic "theoretical
// arrival time"), for publish and for handler dispatch.
//
// `per_second` tokens are added per second up to `burst`; TryAcquire takes one
// token when available and otherwise says how long until one is, taking
// nothing — so a caller can wait somewhere else (a lane on the retry timer)
// and try again.
//
// Thread safety: thread-safe; one CAS per successful acquire.

#ifndef EVBUS_OPS_RATE_LIMITER_H_
#define EVBUS_OPS_RATE_LIMITER_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>

namespace evbus::ops {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  // REQUIRES: per_second > 0. burst <= 0 means one second's worth (at least 1).
  RateLimiter(double per_second, int burst);

  // A limiter for `per_second` (null when 0: unlimited).
  static std::shared_ptr<RateLimiter> Make(double per_second, int burst);

  // Zero when a token was taken; otherwise the wait until one is free.
  std::chrono::nanoseconds TryAcquire(Clock::time_point now);

  double per_second() const { return per_second_; }
  int64_t burst() const { return burst_; }

 private:
  const double per_second_;
  const int64_t burst_;
  const int64_t interval_ns_;       // time per token
  const int64_t tolerance_ns_;      // (burst - 1) tokens may be taken ahead of time
  std::atomic<int64_t> tat_ns_{0};  // theoretical arrival time of the next token
};

}  // namespace evbus::ops

#endif  // EVBUS_OPS_RATE_LIMITER_H_
