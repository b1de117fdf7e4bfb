#include "ops/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace evbus::ops {

namespace {

int64_t BurstFor(double per_second, int burst) {
  if (burst > 0) return burst;
  return std::max<int64_t>(1, static_cast<int64_t>(std::ceil(per_second)));
}

}  // namespace

RateLimiter::RateLimiter(double per_second, int burst)
    : per_second_(per_second),
      burst_(BurstFor(per_second, burst)),
      interval_ns_(std::max<int64_t>(1, static_cast<int64_t>(1e9 / per_second))),
      tolerance_ns_((burst_ - 1) * interval_ns_) {}

std::shared_ptr<RateLimiter> RateLimiter::Make(double per_second, int burst) {
  if (per_second <= 0) return nullptr;
  return std::make_shared<RateLimiter>(per_second, burst);
}

std::chrono::nanoseconds RateLimiter::TryAcquire(Clock::time_point now) {
  const int64_t t =
      std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
  int64_t tat = tat_ns_.load(std::memory_order_relaxed);
  for (;;) {
    const int64_t base = std::max(tat, t);
    // Allowed when the bucket, drained to `base`, is not ahead of now by more
    // than the burst allows.
    if (base - t > tolerance_ns_) return std::chrono::nanoseconds(base - t - tolerance_ns_);
    if (tat_ns_.compare_exchange_weak(tat, base + interval_ns_, std::memory_order_relaxed)) {
      return std::chrono::nanoseconds(0);
    }
  }
}

}  // namespace evbus::ops
