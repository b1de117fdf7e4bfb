// LaneScheduler: serial FIFOs ("lanes") shared by a pool of workers.
//
// Messages with the same ordering key hash to the same lane, and a lane is
// held by at most one worker at a time, so one key's messages run one at a
// time, in order, while different lanes run in parallel on every worker.
// A lane is in one of four states:
//   idle    - empty, not scheduled
//   ready   - has messages, waiting in the ready queue for a worker
//   running - a worker holds it (messages may still be appended behind)
//   waiting - its head message waits for a retry backoff or a dead-letter
//             publish; later messages of the lane wait behind it
// Nothing here sleeps or blocks a worker through a backoff: a waiting lane is
// simply not in the ready queue until MakeReady() puts it back.
//
// Memory: every message in a lane was counted against the consumer's window
// and budget before it was enqueued; the ready queue holds each lane at most
// once. So everything here is bounded.
//
// Thread safety: thread-safe. No callback runs under the lock.

#ifndef EVBUS_CORE_LANE_SCHEDULER_H_
#define EVBUS_CORE_LANE_SCHEDULER_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <vector>

#include "core/in_flight.h"

namespace evbus::core {

class LaneScheduler {
 public:
  explicit LaneScheduler(uint32_t lanes);

  uint32_t lane_count() const { return static_cast<uint32_t>(lanes_.size()); }

  // Appends each message to its lane (FIFO) and schedules idle lanes.
  void Enqueue(const std::vector<std::pair<uint32_t, InFlight*>>& batch);

  // A run of one lane's messages handed to a worker.
  struct Taken {
    uint32_t lane;
    InFlight* head;
    InFlight* tail;
  };
  // Waits for ready lanes and takes up to `max_lanes` of them (fewer when
  // other workers are idle, so a slow handler does not hoard work).
  // Returns false when the scheduler is stopping.
  bool Take(std::vector<Taken>& out, size_t max_lanes);

  // Gives a taken lane back in the waiting state (retry backoff, dead-letter
  // publish, or parked while closing): `rest`..`rest_tail` (the messages not
  // processed, never empty) go back at the front in order. While abandoning,
  // they are dropped and returned through `dropped`, and this returns false:
  // the caller must not touch them again.
  // With `dead_letter_head`, the head is marked as in a dead-letter publish
  // under the same lock (see DeadLetterSucceeded/Failed), so abandoning can
  // never free it between the return and the publish.
  bool ReturnWaiting(uint32_t lane, InFlight* rest, InFlight* rest_tail, bool dead_letter_head,
                     std::vector<InFlight*>& dropped);
  // Gives back lanes whose taken run completed: each becomes ready (if more
  // arrived meanwhile) or idle. While abandoning, their queued messages are
  // dropped and returned through `dropped`.
  void ReturnCompleted(const std::vector<uint32_t>& lanes, std::vector<InFlight*>& dropped);
  // A waiting lane may run again (its backoff ended).
  void MakeReady(uint32_t lane);

  // The publish succeeded: pops and returns the head, then the lane becomes
  // ready or idle.
  InFlight* DeadLetterSucceeded(uint32_t lane);
  // The publish failed: the lane stays waiting (blocked) for a retry, or,
  // while abandoning, pops and returns the head for the caller to release.
  InFlight* DeadLetterFailed(uint32_t lane);

  // Waits until no lane is ready or running and no dead-letter publish is in
  // progress (waiting lanes count as done: draining does not retry), or
  // `deadline`. Returns true when quiet.
  bool WaitQuiet(std::chrono::steady_clock::time_point deadline);
  // Draining: later failures park their lane instead of retrying.
  void SetDraining();
  bool draining() const;
  // Drops every queued message (returned for the caller to release); lanes
  // held by workers drop the rest when returned. Then waits until no worker
  // holds a lane.
  std::vector<InFlight*> AbandonAll();
  // Makes Take() return false once the ready queue is empty.
  void Stop();

  // Lanes waiting on a backoff or a dead-letter publish.
  int waiting_lanes() const;
  bool abandoning() const;

 private:
  enum class State : uint8_t { kIdle, kReady, kRunning, kWaiting };
  struct Lane {
    InFlight* head = nullptr;
    InFlight* tail = nullptr;
    State state = State::kIdle;
    bool head_busy = false;  // head is in a dead-letter publish
  };
  void ScheduleLocked(uint32_t lane);
  bool QuietLocked() const;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;   // workers wait for ready lanes
  std::condition_variable quiet_cv_;  // Close waits for quiet
  std::vector<Lane> lanes_;
  std::deque<uint32_t> ready_;  // each lane at most once
  int idle_workers_ = 0;
  int running_ = 0;
  int waiting_ = 0;
  int dead_letters_in_progress_ = 0;
  bool draining_ = false;
  bool abandoning_ = false;
  bool stopping_ = false;
};

}  // namespace evbus::core

#endif  // EVBUS_CORE_LANE_SCHEDULER_H_
