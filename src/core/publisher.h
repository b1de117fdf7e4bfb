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

#include "core/counters.h"
#include "evbus/config.h"
#include "evbus/handler.h"
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
  };
  // Waits up to publisher.timeout for room, then hands the record over.
  // Errors: QueueFull, Closed, and the producer's own.
  Status Publish(Record&& record, Meta meta, PublishCallback done);

  // For the engine's own records (dead letters): not bounded, not counted.
  transport::Producer& producer() { return *producer_; }

  // New publishes fail with Closed from now on.
  void StopAccepting();
  // Flushes until `deadline`, then closes the producer (whatever is still
  // pending completes with Closed). Returns how many completed with Closed.
  uint64_t Close(transport::Clock::time_point deadline);

 private:
  void Completed();

  std::unique_ptr<transport::Producer> producer_;
  const PublisherConfig config_;
  Counters& counters_;
  std::atomic<bool> accepting_{true};
  std::atomic<int64_t> outstanding_{0};
  std::atomic<uint64_t> failed_closed_{0};
  std::mutex mu_;  // only for waiting on room
  std::condition_variable room_cv_;
  std::atomic<int> waiters_{0};
};

}  // namespace evbus::core

#endif  // EVBUS_CORE_PUBLISHER_H_
