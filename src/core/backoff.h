// The backoff before retry number `attempt` under a RetryPolicy: the handler
// retries of the dispatcher and the outbox relay's row retries.

#ifndef EVBUS_CORE_BACKOFF_H_
#define EVBUS_CORE_BACKOFF_H_

#include <chrono>

#include "evbus/config.h"

namespace evbus::core {

// initial_backoff * multiplier^(attempt-1), at most max_backoff, then +-jitter.
// attempt >= 1 (smaller counts as 1). Thread-safe.
std::chrono::nanoseconds RetryBackoff(const RetryPolicy& policy, int attempt);

}  // namespace evbus::core

#endif  // EVBUS_CORE_BACKOFF_H_
