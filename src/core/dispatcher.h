// Dispatcher: routes dispatched messages to lanes and runs them on the
// bus's worker pool — handler calls, retries with backoff, dead-lettering,
// poison, and settlement into each partition's frontier.
//
// Per message, exactly one end (T3): settled (handled or dead-lettered) or
// released unsettled (abandoned on close, or its partition was revoked).
// A handler's exception is a failure like an error Status; it never escapes
// into a worker. A handler still running at its handler timeout has its
// CancelToken cancelled, and that attempt fails with kTimeout. kPermanent and
// kPoison dead-letter at once; kCancelled (or any failure once Close cancels)
// leaves the message for redelivery; every other error is retried until
// RetryPolicy::max_attempts.
//
// Thread safety: thread-safe.

#ifndef EVBUS_CORE_DISPATCHER_H_
#define EVBUS_CORE_DISPATCHER_H_

#include <atomic>
#include <functional>
#include <memory>
#include <vector>

#include "core/counters.h"
#include "core/handler_watchdog.h"
#include "core/in_flight.h"
#include "core/in_flight_pool.h"
#include "core/lane_scheduler.h"
#include "core/retry_timer.h"
#include "core/thread.h"
#include "evbus/config.h"
#include "evbus/handler.h"
#include "transport/transport.h"

namespace evbus::core {

// What the dispatcher needs from the rest of the bus.
struct DispatcherContext {
  uint64_t bus_id = 0;
  const void* bus_tag = nullptr;  // identifies the bus's own threads (Close from a handler)
  int workers = 1;
  uint32_t lanes = 4096;  // lane slots allocated up front (LaneScheduler)
  Counters* counters = nullptr;
  const CancelToken* cancel = nullptr;
  transport::Producer* producer = nullptr;          // for dead letters
  std::function<void(const Status&)> report_error;  // user error callback, off-lock
  bool measure_latency = false;                     // record counters->consume_latency
  // Called after every message ends, with its partition's remaining in-flight
  // count (the consumer loop resumes paused partitions from here).
  std::function<void(const InFlight&, int left)> on_released;
};

class Dispatcher {
 public:
  explicit Dispatcher(DispatcherContext context);
  ~Dispatcher() { Stop(); }

  // Starts the workers ("evb-work-N") and the retry timer.
  void Start();

  // The ordering unit of a message under its subscription's ordering: its
  // key (record key, else the X-Aggregate-ID header; without one, its
  // partition) under kPerKey, its partition under kPerPartition, none (a
  // lane of its own) under kNone. Views `sub` and `record`.
  static LaneScheduler::Unit UnitFor(const Subscription& sub, const Record& record);
  // Where the consumer loop gets its InFlights (and their records) from.
  InFlightPool& pool() { return pool_; }
  void Enqueue(const std::vector<std::pair<LaneScheduler::Unit, InFlight*>>& batch) {
    scheduler_.Enqueue(batch);
  }

  // Close, in this order:
  void SetDraining() { scheduler_.SetDraining(); }
  bool WaitQuiet(std::chrono::steady_clock::time_point deadline) {
    return scheduler_.WaitQuiet(deadline);
  }
  // Cancels the token of every handler call under a handler timeout (the
  // others see context.cancel). Call after cancelling context.cancel.
  void CancelHandlers() { watchdog_.CancelAll(); }
  // Drops queued work (unsettled) and waits for running handlers.
  void AbandonAll();
  // Joins workers and the timer. Idempotent.
  void Stop();
  // Messages released unsettled so far. Final after Stop(): a worker releases
  // what its cancelled handler left after AbandonAll has returned.
  uint64_t abandoned() const { return abandoned_.load(std::memory_order_relaxed); }

  int waiting_lanes() const { return scheduler_.waiting_lanes(); }

  // True on one of this dispatcher's worker threads for `bus_tag`.
  static bool OnWorkerOf(const void* bus_tag);

 private:
  // kThrottle: the subscription's rate limit holds the message back; its lane
  // waits on the timer like a retry, without counting an attempt.
  enum class Outcome { kSettled, kRetry, kDeadLetter, kPark, kThrottle };

  // What one worker turn finished, applied in bulk at the end of the turn.
  struct TurnResult {
    std::vector<InFlight*> settled;
    std::vector<uint32_t> completed_lanes;
    std::vector<InFlight*> dropped;
  };
  void WorkerMain(int index);
  // Runs one taken run of a lane; returns how many handler calls it made.
  size_t RunLane(const LaneScheduler::Taken& taken, TurnResult& turn);
  void SettleAll(std::vector<InFlight*>& settled);
  Outcome Invoke(InFlight& m);
  void PublishDeadLetter(uint32_t lane, InFlight& m);
  void OnDeadLetterDone(uint32_t lane, const InFlight& head, const Status& status,
                        const RetryPolicy& policy, int attempt);
  void Release(InFlight* m, bool settled);
  void ReleaseAll(std::vector<InFlight*>& dropped);

  DispatcherContext ctx_;
  InFlightPool pool_;  // before the scheduler and timer: outlives what they hold
  LaneScheduler scheduler_;
  HandlerWatchdog watchdog_;  // before the timer, which scans it
  std::unique_ptr<RetryTimer> timer_;
  std::vector<Thread> workers_;
  std::atomic<int64_t> handler_ns_{0};  // moving average cost of one message
  std::atomic<uint64_t> abandoned_{0};
  bool stopped_ = false;
};

}  // namespace evbus::core

#endif  // EVBUS_CORE_DISPATCHER_H_
