// LaneScheduler: serial FIFOs ("lanes") shared by a pool of workers.
//
// A lane is exact: one per ordering unit (a subscription's key, or its
// partition), created when the unit's first message arrives and freed as soon
// as it is idle again. A lane is held by at most one worker at a time, so one
// unit's messages run one at a time, in order, while different units run in
// parallel on every worker, and a unit waiting out a backoff holds back only
// its own later messages. A unit of Unit::Kind::kOwn (no ordering) gets a
// lane of its own for each message.
// A live lane is in one of three states:
//   ready   - has messages, waiting in the ready queue for a worker
//   running - a worker holds it (messages may still be appended behind)
//   waiting - its head message waits for a retry backoff or a dead-letter
//             publish; later messages of the lane wait behind it
// and becomes idle (freed) when it is empty, not running, not waiting and
// its head is in no dead-letter publish. Nothing here sleeps or blocks a
// worker through a backoff: a waiting lane is simply not in the ready queue
// until MakeReady() puts it back.
//
// Lane ids: a lane id (Taken::lane, and what ReturnWaiting, MakeReady and
// DeadLetterSucceeded/Failed take) stays valid while its lane is not idle;
// an idle lane's slot is reused for the next new unit. Whoever holds an id
// holds the lane busy: a worker (running), the retry timer (waiting) or a
// dead-letter publish (waiting, head busy). Only AbandonAll frees a waiting
// lane, and it also sets draining, under which MakeReady does nothing, so a
// timer firing for a freed id is harmless.
//
// Memory: every message in a lane was counted against the consumer's window
// and budget before it was enqueued, and a live lane holds at least one
// message or is held by a worker, so live lanes <= messages in flight +
// workers. Lane slots live in a slab (stable addresses) with a free list; a
// slot keeps its key's string capacity for the next unit, and the index maps
// views into the slots' own strings, its nodes from a pool that reuses freed
// ones. The slab starts with the constructor's `lanes` slots and grows only
// when more units are live at once; nothing is allocated per message once
// warm. The ready queue holds each lane at most once.
//
// Thread safety: thread-safe. No callback runs under the lock.

#ifndef EVBUS_CORE_LANE_SCHEDULER_H_
#define EVBUS_CORE_LANE_SCHEDULER_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory_resource>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/in_flight.h"

namespace evbus::core {

class LaneScheduler {
 public:
  // The ordering unit of a message. The views must stay valid until Enqueue
  // returns (the lane copies them).
  struct Unit {
    enum class Kind : uint8_t {
      kOwn,        // no ordering: a lane of its own, never shared
      kKey,        // (topic, key)
      kPartition,  // (topic, partition)
    };
    Kind kind = Kind::kOwn;
    int32_t partition = 0;
    std::string_view topic;
    std::string_view key;
    size_t hash = 0;

    static Unit Own() { return Unit{}; }
    static Unit Key(std::string_view topic, std::string_view key);
    static Unit Partition(std::string_view topic, int32_t partition);
  };

  // `lanes`: lane slots allocated up front (distinct units live at once
  // before the slab grows). REQUIRES: lanes >= 1.
  explicit LaneScheduler(uint32_t lanes);

  // Appends each message to its unit's lane (FIFO), creating the lane (and
  // scheduling it) when the unit has none.
  void Enqueue(const std::vector<std::pair<Unit, InFlight*>>& batch);

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
  // Lanes not idle (ready, running or waiting), and lane slots allocated.
  size_t live_lanes() const;
  size_t lane_slots() const;

 private:
  enum class State : uint8_t { kIdle, kReady, kRunning, kWaiting };  // kIdle = free
  struct Lane {
    InFlight* head = nullptr;
    InFlight* tail = nullptr;
    State state = State::kIdle;
    bool head_busy = false;  // head is in a dead-letter publish
    // The unit, while live; the strings keep their capacity across units.
    Unit::Kind kind = Unit::Kind::kOwn;
    int32_t partition = 0;
    size_t hash = 0;
    std::string topic;
    std::string key;
  };
  struct UnitHash {
    size_t operator()(const Unit& u) const { return u.hash; }
  };
  struct UnitEq {
    bool operator()(const Unit& a, const Unit& b) const {
      return a.hash == b.hash && a.kind == b.kind && a.partition == b.partition && a.key == b.key &&
             a.topic == b.topic;
    }
  };
  // The live lane of `unit`, or a new one (idle, not yet scheduled).
  uint32_t LaneOfLocked(const Unit& unit);
  // REQUIRES: the lane is empty and no longer ready, running or waiting.
  void FreeLocked(uint32_t lane);
  void ScheduleLocked(uint32_t lane);
  bool QuietLocked() const;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;                     // workers wait for ready lanes
  std::condition_variable quiet_cv_;                    // Close waits for quiet
  std::deque<Lane> lanes_;                              // the slab: a deque, so slots never move
  std::vector<uint32_t> free_;                          // idle slots, reused last-freed first
  std::pmr::unsynchronized_pool_resource index_nodes_;  // reuses erased nodes
  // Live kKey/kPartition lanes by unit; each key views its own lane's strings.
  std::pmr::unordered_map<Unit, uint32_t, UnitHash, UnitEq> index_{&index_nodes_};
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
