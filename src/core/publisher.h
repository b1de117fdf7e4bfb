// Publisher: the bus's side of the producer — a bounded number of
// outstanding publishes, exactly one completion per accepted publish.
//
// Thread safety: thread-safe.

#ifndef EVBUS_CORE_PUBLISHER_H_
#define EVBUS_CORE_PUBLISHER_H_

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>

#include "core/counters.h"
#include "evbus/config.h"
#include "evbus/handler.h"
#include "ops/rate_limiter.h"
#include "transport/transport.h"

namespace evbus::core {

class Publisher {
 public:
  Publisher(std::unique_ptr<transport::Producer> producer, const PublisherConfig& config,
            Counters& counters);

  // What the completion reports besides topic and outcome.
  struct Meta {
    std::string event_id;
    std::string aggregate_id;
    std::string event_type;
    bool internal = false;  // the bus's own (health checks): not given to the result sink
  };
  // Waits up to `timeout` (default publisher.timeout) for a rate token
  // (publisher.rate_limit) and for room, then hands the record over. The
  // callbacks run inside a CompletionScope (core/completion_thread.h).
  // Errors: QueueFull, Closed, and the producer's own.
  Status Publish(Record&& record, Meta meta, PublishCallback done,
                 std::optional<Duration> timeout = std::nullopt);

  // Every publish's result also goes to `sink` (outbox relays).
  // REQUIRES: no Publish has been called yet. Errors: FailedPrecondition.
  Status SetResultSink(PublishCallback sink);
  // True when results need their metadata (a sink is set).
  bool has_result_sink() const { return result_sink_ != nullptr; }

  // For the engine's own records (dead letters): not bounded, not counted.
  transport::Producer& producer() { return *producer_; }

  // New publishes fail with Closed from now on.
  void StopAccepting();
  // Waits (until `deadline`) for Publish calls still running, flushes until
  // `deadline`, then closes the producer (whatever is still pending
  // completes with Closed): every accepted publish has completed when it
  // returns. Returns how many completed with Closed.
  uint64_t Close(transport::Clock::time_point deadline);

 private:
  void Completed();
  // The bookkeeping of every completion: latency, counters, the slot.
  // Returns the completion time (when measured or `report`, else `started`).
  std::chrono::steady_clock::time_point Account(const Status& status,
                                                std::chrono::steady_clock::time_point started,
                                                bool report);
  // Takes a rate token, waiting up to `deadline`. Errors: QueueFull, Closed.
  Status WaitForToken(std::chrono::steady_clock::time_point deadline, std::string_view setting);

  std::unique_ptr<transport::Producer> producer_;
  const PublisherConfig config_;
  Counters& counters_;
  std::atomic<bool> accepting_{true};
  // Publish calls in progress. Sequentially consistent with accepting_: a
  // caller that Close did not see sees accepting_ false.
  std::atomic<int64_t> callers_{0};
  std::atomic<int64_t> outstanding_{0};
  std::atomic<uint64_t> failed_closed_{0};
  std::mutex mu_;  // only for waiting on room
  std::condition_variable room_cv_;
  std::atomic<int> waiters_{0};
  const std::shared_ptr<ops::RateLimiter> limiter_;  // null: unlimited
  // Written only before the first publish (SetResultSink), read after.
  PublishCallback result_sink_;
  std::atomic<bool> used_{false};
};

}  // namespace evbus::core

#endif  // EVBUS_CORE_PUBLISHER_H_
