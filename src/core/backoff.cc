#include "core/backoff.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>

namespace evbus::core {

std::chrono::nanoseconds RetryBackoff(const RetryPolicy& policy, int attempt) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const double base = static_cast<double>(policy.initial_backoff.count()) *
                      std::pow(policy.multiplier, std::max(0, attempt - 1));
  double d = std::min(base, static_cast<double>(policy.max_backoff.count()));
  if (policy.jitter > 0) {
    std::uniform_real_distribution<double> u(-policy.jitter, policy.jitter);
    d *= 1.0 + u(rng);
  }
  return std::chrono::nanoseconds(static_cast<int64_t>(std::max(0.0, d)));
}

}  // namespace evbus::core
