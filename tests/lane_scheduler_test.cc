// LaneScheduler: one unit's messages run on one worker at a time, in FIFO
// order; a lane given back waiting keeps its order and holds back nothing
// but its own unit; lanes are freed when idle and their slots reused;
// draining parks lanes; AbandonAll hands back everything queued and waits
// for running lanes; a head in a dead-letter publish survives abandoning
// until the publish ends.

#include "core/lane_scheduler.h"

#include <algorithm>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/thread.h"
#include "test_support.h"

namespace evbus::test {
namespace {

using core::InFlight;
using core::LaneScheduler;
using Unit = LaneScheduler::Unit;
using Clock = std::chrono::steady_clock;

class LaneSchedulerTest : public BusTest {
 protected:
  // A message whose seq is its creation number (stable address).
  InFlight* New() {
    InFlight& m = messages_.emplace_back();
    m.seq = messages_.size() - 1;
    return &m;
  }
  // Enqueues `n` new messages of `unit`; returns them in order.
  std::vector<InFlight*> EnqueueOn(LaneScheduler& s, const Unit& unit, int n) {
    std::vector<InFlight*> ms;
    std::vector<std::pair<Unit, InFlight*>> batch;
    for (int i = 0; i < n; ++i) {
      ms.push_back(New());
      batch.emplace_back(unit, ms.back());
    }
    s.Enqueue(batch);
    return ms;
  }
  // Enqueues `n` new messages with key `key` on topic "t".
  std::vector<InFlight*> EnqueueOn(LaneScheduler& s, const std::string& key, int n) {
    return EnqueueOn(s, Unit::Key("t", key), n);
  }
  // Takes exactly one lane. REQUIRES: a lane is ready (checked, so a wrong
  // expectation fails instead of blocking in Take).
  LaneScheduler::Taken TakeOne(LaneScheduler& s) {
    std::vector<LaneScheduler::Taken> out;
    EXPECT_FALSE(s.WaitQuiet(Clock::now())) << "nothing ready: Take would block";
    EXPECT_TRUE(s.Take(out, 1));
    EXPECT_EQ(out.size(), 1u);
    return out.empty() ? LaneScheduler::Taken{0, nullptr, nullptr} : out[0];
  }
  // Takes every ready lane. REQUIRES: a lane is ready.
  std::vector<LaneScheduler::Taken> TakeAll(LaneScheduler& s) {
    std::vector<LaneScheduler::Taken> out;
    EXPECT_FALSE(s.WaitQuiet(Clock::now())) << "nothing ready: Take would block";
    EXPECT_TRUE(s.Take(out, 1'000'000));
    return out;
  }
  static std::vector<uint64_t> Seqs(const InFlight* head) {
    std::vector<uint64_t> seqs;
    for (const InFlight* m = head; m != nullptr; m = m->next) seqs.push_back(m->seq);
    return seqs;
  }
  static std::vector<uint64_t> Seqs(const std::vector<InFlight*>& ms) {
    std::vector<uint64_t> seqs;
    for (const InFlight* m : ms) seqs.push_back(m->seq);
    std::sort(seqs.begin(), seqs.end());
    return seqs;
  }

  const uint64_t bus_ = core::NextBusId();

 private:
  std::deque<InFlight> messages_;
};

// Four workers, messages of five keys enqueued while they run, on two lane
// slots (the slab grows): no key is ever held by two workers, and each key's
// messages run in enqueue order.
TEST_F(LaneSchedulerTest, OneKeyRunsOnOneWorkerAtATimeInFifoOrder) {
  constexpr int kKeys = 5;
  constexpr int kBatches = 100, kPerBatch = 10, kTotal = kBatches * kPerBatch;
  LaneScheduler s(2);
  const std::vector<std::string> keys{"k0", "k1", "k2", "k3", "k4"};
  std::vector<std::vector<std::pair<Unit, InFlight*>>> batches(kBatches);
  std::map<int, std::vector<uint64_t>> enqueued;
  std::vector<int> key_of;  // by seq
  for (int b = 0; b < kBatches; ++b) {
    for (int i = 0; i < kPerBatch; ++i) {
      InFlight* m = New();
      const int key = (b * 7 + i * 3) % kKeys;
      key_of.push_back(key);
      batches[static_cast<size_t>(b)].emplace_back(Unit::Key("t", keys[key]), m);
      enqueued[key].push_back(m->seq);
    }
  }
  std::atomic<bool> busy[kKeys];  // value-initialised: false
  std::atomic<int> overlaps{0};
  Signal signal;
  std::map<int, std::vector<uint64_t>> ran;
  int done = 0;
  {
    std::vector<core::Thread> workers;
    for (int w = 0; w < 4; ++w) {
      workers.push_back(core::Thread::Start("ls-work", "test", bus_, [&] {
        std::vector<LaneScheduler::Taken> taken;
        std::vector<uint32_t> lanes;
        std::vector<InFlight*> dropped;
        while (s.Take(taken, 2)) {
          for (const LaneScheduler::Taken& t : taken) {
            const int key = key_of[t.head->seq];
            if (busy[key].exchange(true)) overlaps.fetch_add(1);
            for (InFlight* m = t.head; m != nullptr; m = m->next) {
              std::this_thread::yield();  // widen the window another worker could use
              EXPECT_EQ(key_of[m->seq], key) << "two keys in one lane";
              signal.Update([&] {
                ran[key].push_back(m->seq);
                ++done;
              });
            }
            busy[key].store(false);
            lanes.push_back(t.lane);
          }
          taken.clear();
          s.ReturnCompleted(lanes, dropped);
          lanes.clear();
          EXPECT_TRUE(dropped.empty());
        }
      }));
    }
    for (const auto& batch : batches) s.Enqueue(batch);
    EXPECT_TRUE(signal.WaitUntil([&] { return done == kTotal; })) << "ran " << done;
    EXPECT_TRUE(s.WaitQuiet(Clock::now() + 20s));
    s.Stop();
  }  // workers joined
  ExpectThreadsAtBaseline();
  EXPECT_EQ(overlaps.load(), 0) << "a key was held by two workers at once";
  EXPECT_EQ(ran, enqueued) << "some key's messages ran out of enqueue order";
  EXPECT_EQ(s.live_lanes(), 0u) << "idle lanes must be freed";
  EXPECT_LE(s.lane_slots(), static_cast<size_t>(kKeys)) << "at most one slot per live key";
}

// Two keys, two workers: each worker's handler waits until the other is
// inside too, which only happens when different keys run in parallel.
TEST_F(LaneSchedulerTest, DifferentKeysRunInParallel) {
  LaneScheduler s(1);
  Signal signal;
  int inside = 0;
  bool together = false;
  {
    std::vector<core::Thread> workers;
    for (int w = 0; w < 2; ++w) {
      workers.push_back(core::Thread::Start("ls-work", "test", bus_, [&] {
        std::vector<LaneScheduler::Taken> taken;
        std::vector<InFlight*> dropped;
        while (s.Take(taken, 1)) {
          signal.Update([&] { ++inside; });
          const bool met = signal.WaitUntil([&] { return inside >= 2; }, 10s);
          signal.Update([&] { together = together || met; });
          const std::vector<uint32_t> lanes{taken[0].lane};
          taken.clear();
          s.ReturnCompleted(lanes, dropped);
        }
      }));
    }
    EnqueueOn(s, "a", 1);
    EnqueueOn(s, "b", 1);
    EXPECT_TRUE(s.WaitQuiet(Clock::now() + 20s));
    s.Stop();
  }
  ExpectThreadsAtBaseline();
  EXPECT_TRUE(together) << "two keys never ran at the same time";
}

// A failing head goes back with the rest of its run, in order, in front of
// what arrived while the run was out; the lane is not run again (messages
// arriving meanwhile queue behind) until MakeReady.
TEST_F(LaneSchedulerTest, ReturnWaitingPutsTheRestBackInFrontInOrder) {
  LaneScheduler s(4);
  const std::vector<InFlight*> m = EnqueueOn(s, "a", 4);
  LaneScheduler::Taken t = TakeOne(s);
  ASSERT_EQ(Seqs(t.head), (std::vector<uint64_t>{0, 1, 2, 3}));
  EnqueueOn(s, "a", 1);  // 4 arrives while the run is out
  // m[0] was handled; m[1] failed and waits for its backoff.
  std::vector<InFlight*> dropped;
  EXPECT_TRUE(s.ReturnWaiting(t.lane, m[1], t.tail, false, dropped));
  EXPECT_TRUE(dropped.empty());
  EXPECT_EQ(s.waiting_lanes(), 1);
  EnqueueOn(s, "a", 1);  // 5 arrives during the backoff
  EXPECT_TRUE(s.WaitQuiet(Clock::now())) << "a waiting lane must not be ready";
  EXPECT_EQ(s.live_lanes(), 1u);
  s.MakeReady(t.lane);
  EXPECT_EQ(s.waiting_lanes(), 0);
  const uint32_t lane = t.lane;
  t = TakeOne(s);
  EXPECT_EQ(t.lane, lane);
  EXPECT_EQ(Seqs(t.head), (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  s.ReturnCompleted({t.lane}, dropped);
  EXPECT_TRUE(dropped.empty());
  EXPECT_TRUE(s.WaitQuiet(Clock::now()));
  EXPECT_EQ(s.live_lanes(), 0u);
}

// Issue 13: one lane slot, key A waiting on a backoff. Other keys (also of
// another topic, and A's key on another topic) are created on demand and run;
// A's later message waits behind A's head only.
TEST_F(LaneSchedulerTest, AKeyWaitingHoldsBackOnlyItsOwnLaterMessages) {
  LaneScheduler s(1);
  std::vector<InFlight*> dropped;
  const std::vector<InFlight*> a = EnqueueOn(s, "A", 1);  // 0
  LaneScheduler::Taken t = TakeOne(s);
  ASSERT_TRUE(s.ReturnWaiting(t.lane, a[0], t.tail, false, dropped));  // A0 failed
  const uint32_t a_lane = t.lane;
  EnqueueOn(s, "B", 1);                      // 1
  EnqueueOn(s, "A", 1);                      // 2: behind A0
  EnqueueOn(s, Unit::Key("other", "A"), 1);  // 3: another topic's A
  EnqueueOn(s, Unit::Partition("t", 0), 1);  // 4
  EnqueueOn(s, Unit::Key("t", "C"), 1);      // 5
  EXPECT_EQ(s.live_lanes(), 5u);
  std::vector<LaneScheduler::Taken> taken = TakeAll(s);
  std::vector<uint64_t> ran;
  std::vector<uint32_t> lanes;
  for (const LaneScheduler::Taken& r : taken) {
    EXPECT_NE(r.lane, a_lane);
    for (uint64_t seq : Seqs(r.head)) ran.push_back(seq);
    lanes.push_back(r.lane);
  }
  std::sort(ran.begin(), ran.end());
  EXPECT_EQ(ran, (std::vector<uint64_t>{1, 3, 4, 5})) << "everything but A's later message runs";
  s.ReturnCompleted(lanes, dropped);
  EXPECT_TRUE(s.WaitQuiet(Clock::now())) << "A's later message must wait for A0";
  EXPECT_EQ(s.live_lanes(), 1u) << "only A's lane is left";
  s.MakeReady(a_lane);
  t = TakeOne(s);
  EXPECT_EQ(Seqs(t.head), (std::vector<uint64_t>{0, 2}));
  s.ReturnCompleted({t.lane}, dropped);
  EXPECT_EQ(s.live_lanes(), 0u);
  EXPECT_LE(s.lane_slots(), 5u);
}

// Units: one key (of one topic) or one partition share a lane; kOwn never
// shares. Idle lanes are freed and their slots reused for new units.
TEST_F(LaneSchedulerTest, UnitsMapToLanesAndIdleLanesAreReused) {
  LaneScheduler s(2);
  std::vector<InFlight*> dropped;
  EnqueueOn(s, Unit::Partition("t", 0), 2);  // 0,1: one lane
  EnqueueOn(s, Unit::Partition("t", 1), 1);  // 2
  EnqueueOn(s, Unit::Key("t", "0"), 1);      // 3: a key is not a partition
  EnqueueOn(s, Unit::Own(), 1);              // 4
  EnqueueOn(s, Unit::Own(), 1);              // 5: a lane of its own
  EXPECT_EQ(s.live_lanes(), 5u);
  EXPECT_EQ(s.lane_slots(), 5u) << "the slab grows past its initial 2 slots";
  std::vector<LaneScheduler::Taken> taken = TakeAll(s);
  ASSERT_EQ(taken.size(), 5u);
  std::set<std::vector<uint64_t>> runs;
  std::vector<uint32_t> lanes;
  for (const LaneScheduler::Taken& t : taken) {
    runs.insert(Seqs(t.head));
    lanes.push_back(t.lane);
  }
  EXPECT_EQ(runs, (std::set<std::vector<uint64_t>>{{0, 1}, {2}, {3}, {4}, {5}}));
  s.ReturnCompleted(lanes, dropped);
  EXPECT_EQ(s.live_lanes(), 0u);
  // 100 new keys, 5 at a time: the 5 slots are reused, never grown.
  for (int round = 0; round < 20; ++round) {
    for (int k = 0; k < 5; ++k) EnqueueOn(s, "key-" + std::to_string(round * 5 + k), 1);
    taken = TakeAll(s);
    lanes.clear();
    for (const LaneScheduler::Taken& t : taken) lanes.push_back(t.lane);
    s.ReturnCompleted(lanes, dropped);
  }
  EXPECT_TRUE(dropped.empty());
  EXPECT_EQ(s.live_lanes(), 0u);
  EXPECT_EQ(s.lane_slots(), 5u);
}

TEST_F(LaneSchedulerTest, WaitQuietWaitsForRunningLanesAndDrainingParksWaitingOnes) {
  LaneScheduler s(4);
  const std::vector<InFlight*> m = EnqueueOn(s, "two", 2);
  LaneScheduler::Taken t = TakeOne(s);
  const uint32_t waiting = t.lane;
  std::vector<InFlight*> dropped;
  ASSERT_TRUE(s.ReturnWaiting(waiting, m[0], t.tail, false, dropped));  // m[0] failed
  EnqueueOn(s, "three", 1);
  t = TakeOne(s);  // "three" running
  ASSERT_EQ(Seqs(t.head), (std::vector<uint64_t>{2}));
  EXPECT_FALSE(s.WaitQuiet(Clock::now())) << "\"three\" is running";
  bool quiet = false;
  {
    core::Thread waiter = core::Thread::Start("ls-quiet", "test", bus_,
                                              [&] { quiet = s.WaitQuiet(Clock::now() + 20s); });
    s.ReturnCompleted({t.lane}, dropped);
  }  // joined
  ExpectThreadsAtBaseline();
  EXPECT_TRUE(quiet) << "WaitQuiet must wake when the last running lane is returned";

  // Draining: a lane whose backoff ends stays parked (no retries while closing).
  EXPECT_FALSE(s.draining());
  s.SetDraining();
  EXPECT_TRUE(s.draining());
  s.MakeReady(waiting);
  EXPECT_EQ(s.waiting_lanes(), 1);
  EXPECT_EQ(s.live_lanes(), 1u) << "a parked lane is not idle";
  EXPECT_TRUE(s.WaitQuiet(Clock::now())) << "waiting lanes count as done while draining";
  // Closing then hands the parked messages back.
  EXPECT_EQ(Seqs(s.AbandonAll()), (std::vector<uint64_t>{0, 1}));
  EXPECT_EQ(s.live_lanes(), 0u);
  s.MakeReady(waiting);  // a timer firing after the lane was freed does nothing
  EXPECT_EQ(s.live_lanes(), 0u);
  EXPECT_TRUE(s.WaitQuiet(Clock::now()));
}

// Queued, waiting and running lanes at once: AbandonAll returns every queued
// message (ready and waiting lanes), waits until the running lanes come
// back, and their workers get what queued behind them through `dropped`.
TEST_F(LaneSchedulerTest, AbandonAllReturnsEverythingQueuedAndWaitsForRunningLanes) {
  LaneScheduler s(8);
  std::vector<InFlight*> dropped;
  EnqueueOn(s, "two", 2);  // 0,1: its head failed and waits for a backoff
  LaneScheduler::Taken w = TakeOne(s);
  ASSERT_TRUE(s.ReturnWaiting(w.lane, w.head, w.tail, false, dropped));
  EnqueueOn(s, "one", 2);                                         // 2,3
  const std::vector<InFlight*> three = EnqueueOn(s, "three", 2);  // 4,5
  LaneScheduler::Taken r1 = TakeOne(s);                           // "one": running
  LaneScheduler::Taken r3 = TakeOne(s);                           // "three": running
  ASSERT_EQ(Seqs(r1.head), (std::vector<uint64_t>{2, 3}));
  ASSERT_EQ(Seqs(r3.head), (std::vector<uint64_t>{4, 5}));
  EnqueueOn(s, "zero", 3);  // 6,7,8: ready
  EnqueueOn(s, "one", 1);   // 9: queued behind the running "one"

  std::vector<InFlight*> abandoned;
  std::atomic<bool> returned{false};
  {
    core::Thread closer = core::Thread::Start("ls-close", "test", bus_, [&] {
      abandoned = s.AbandonAll();
      returned = true;
    });
    EXPECT_TRUE(Eventually([&] { return s.abandoning(); }));  // no ASSERT: the lanes must go back
    EXPECT_FALSE(returned.load()) << "AbandonAll returned while two lanes were running";
    // "one"'s run completed: what queued behind it is dropped to its worker.
    std::vector<InFlight*> dropped1;
    s.ReturnCompleted({r1.lane}, dropped1);
    EXPECT_EQ(Seqs(dropped1), (std::vector<uint64_t>{9}));
    EXPECT_FALSE(returned.load()) << "\"three\" is still running";
    // "three"'s head failed: while abandoning nothing goes back; it all drops.
    std::vector<InFlight*> dropped3;
    EXPECT_FALSE(s.ReturnWaiting(r3.lane, three[0], r3.tail, false, dropped3));
    EXPECT_EQ(Seqs(dropped3), (std::vector<uint64_t>{4, 5}));
  }  // joined
  ExpectThreadsAtBaseline();
  EXPECT_TRUE(returned.load());
  // "two" (waiting: 0,1) and "zero" (ready: 6,7,8); "one"'s 2,3 ran.
  EXPECT_EQ(Seqs(abandoned), (std::vector<uint64_t>{0, 1, 6, 7, 8}));
  EXPECT_TRUE(s.WaitQuiet(Clock::now()));
  EXPECT_EQ(s.live_lanes(), 0u);
}

// The dead-letter publish of a lane's head: success pops it and the rest
// runs; failure keeps the lane blocked on it (fail closed) until MakeReady
// retries the same head.
TEST_F(LaneSchedulerTest, DeadLetterOutcomesPopOrKeepTheHead) {
  LaneScheduler s(4);
  const std::vector<InFlight*> m = EnqueueOn(s, "a", 3);
  LaneScheduler::Taken t = TakeOne(s);
  const uint32_t lane = t.lane;
  std::vector<InFlight*> dropped;
  ASSERT_TRUE(s.ReturnWaiting(lane, m[0], t.tail, /*dead_letter_head=*/true, dropped));
  EXPECT_FALSE(s.WaitQuiet(Clock::now())) << "a dead-letter publish is in progress";
  EXPECT_EQ(s.DeadLetterFailed(lane), nullptr) << "not abandoning: the head stays";
  EXPECT_EQ(s.waiting_lanes(), 1);
  EXPECT_TRUE(s.WaitQuiet(Clock::now()));
  s.MakeReady(lane);  // the publish is retried with the same head
  t = TakeOne(s);
  EXPECT_EQ(t.lane, lane);
  EXPECT_EQ(Seqs(t.head), (std::vector<uint64_t>{0, 1, 2}));
  ASSERT_TRUE(s.ReturnWaiting(lane, m[0], t.tail, /*dead_letter_head=*/true, dropped));
  EXPECT_EQ(s.DeadLetterSucceeded(lane), m[0]);
  EXPECT_EQ(s.waiting_lanes(), 0);
  t = TakeOne(s);
  EXPECT_EQ(Seqs(t.head), (std::vector<uint64_t>{1, 2}));
  s.ReturnCompleted({t.lane}, dropped);
  EXPECT_TRUE(dropped.empty());
  EXPECT_EQ(s.live_lanes(), 0u);
  // A head dead-lettered with nothing behind it frees its lane.
  EnqueueOn(s, "b", 1);
  t = TakeOne(s);
  ASSERT_TRUE(s.ReturnWaiting(t.lane, t.head, t.tail, /*dead_letter_head=*/true, dropped));
  EXPECT_EQ(s.live_lanes(), 1u) << "a lane in a dead-letter publish is not idle";
  EXPECT_NE(s.DeadLetterSucceeded(t.lane), nullptr);
  EXPECT_EQ(s.live_lanes(), 0u);
  EXPECT_TRUE(s.WaitQuiet(Clock::now()));
}

// Abandoning never frees a head whose dead-letter publish is still running:
// the publish's completion hands it back, whatever its outcome.
TEST_F(LaneSchedulerTest, AbandonAllKeepsAHeadInADeadLetterPublishUntilItEnds) {
  LaneScheduler s(4);
  const std::vector<InFlight*> a = EnqueueOn(s, "a", 2);  // 0,1
  const std::vector<InFlight*> b = EnqueueOn(s, "b", 2);  // 2,3
  std::vector<InFlight*> dropped;
  LaneScheduler::Taken ta = TakeOne(s);
  ASSERT_EQ(ta.head, a[0]);
  ASSERT_TRUE(s.ReturnWaiting(ta.lane, ta.head, ta.tail, true, dropped));
  LaneScheduler::Taken tb = TakeOne(s);
  ASSERT_EQ(tb.head, b[0]);
  ASSERT_TRUE(s.ReturnWaiting(tb.lane, tb.head, tb.tail, true, dropped));
  EXPECT_EQ(Seqs(s.AbandonAll()), (std::vector<uint64_t>{1, 3})) << "only what is behind the heads";
  EXPECT_FALSE(s.WaitQuiet(Clock::now())) << "two publishes still in progress";
  EXPECT_EQ(s.live_lanes(), 2u);
  EXPECT_EQ(s.DeadLetterFailed(ta.lane), a[0]) << "abandoning: a failed publish returns the head";
  EXPECT_EQ(s.DeadLetterSucceeded(tb.lane), b[0]);
  EXPECT_TRUE(s.WaitQuiet(Clock::now()));
  EXPECT_EQ(s.live_lanes(), 0u);
  EXPECT_EQ(s.waiting_lanes(), 0);
}

TEST_F(LaneSchedulerTest, StopEndsTakeOnceTheReadyQueueIsEmpty) {
  LaneScheduler s(4);
  bool blocked_take = true;
  {
    core::Thread worker = core::Thread::Start("ls-work", "test", bus_, [&] {
      std::vector<LaneScheduler::Taken> out;
      blocked_take = s.Take(out, 1);  // nothing ready: waits until Stop
    });
    s.Stop();
  }
  ExpectThreadsAtBaseline();
  EXPECT_FALSE(blocked_take);
  // What is ready when stopping is still handed out first.
  EnqueueOn(s, "c", 1);
  std::vector<LaneScheduler::Taken> out;
  EXPECT_TRUE(s.Take(out, 4));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(Seqs(out[0].head), (std::vector<uint64_t>{0}));
  std::vector<InFlight*> dropped;
  s.ReturnCompleted({out[0].lane}, dropped);
  out.clear();
  EXPECT_FALSE(s.Take(out, 4));
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace evbus::test
