// InFlight: one message between the consumer loop and its settlement.

#ifndef EVBUS_CORE_IN_FLIGHT_H_
#define EVBUS_CORE_IN_FLIGHT_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "evbus/handler.h"
#include "evbus/record.h"
#include "ops/rate_limiter.h"

namespace evbus::core {

class PartitionState;

// A subscription as the engine sees it. Immutable once the engine runs it.
struct Subscription {
  std::string topic;
  RecordHandler record_handler;  // exactly one of the two is set
  EnvelopeHandler envelope_handler;
  Ordering ordering = Ordering::kPerKey;
  RetryPolicy retry;
  std::string dead_letter_topic;
  std::shared_ptr<ops::RateLimiter> limiter;            // handler dispatch rate; null = unlimited
  std::chrono::nanoseconds handler_timeout{0};          // 0 = none (HandlerWatchdog)
  PayloadFormat payload_format = PayloadFormat::kAuto;  // envelope subscriptions
  // SubscribeOptions::middleware, built into the handler with the bus-wide
  // ones (BuildMiddlewareChain) before the engine runs it.
  std::vector<Middleware> middleware;
  bool chain_built = false;  // true once built, and for internal subscriptions
};

struct InFlight {
  std::shared_ptr<const Record> record;  // immutable, possibly shared with the broker
  const Subscription* subscription = nullptr;
  std::shared_ptr<PartitionState> partition;
  uint64_t seq = 0;          // slot in the partition's frontier
  int attempts = 0;          // handler invocations so far
  bool dead_letter = false;  // next step: publish to the dead-letter topic
  std::string last_error;    // why it failed, for X-Error
  int dead_letter_attempts = 0;
  int64_t bytes = 0;  // counted against the memory budget
  std::chrono::steady_clock::time_point received_at;
  InFlight* next = nullptr;  // intrusive FIFO link inside a lane
};

}  // namespace evbus::core

#endif  // EVBUS_CORE_IN_FLIGHT_H_
