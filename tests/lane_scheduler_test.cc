// LaneScheduler: one lane's messages run on one worker at a time, in FIFO
// order; a lane given back waiting keeps its order; draining parks lanes;
// AbandonAll hands back everything queued and waits for running lanes; a
// head in a dead-letter publish survives abandoning until the publish ends.

#include "core/lane_scheduler.h"

#include <algorithm>
#include <deque>
#include <map>
#include <set>
#include <vector>

#include "core/thread.h"
#include "test_support.h"

namespace evbus::test {
namespace {

using core::InFlight;
using core::LaneScheduler;
using Clock = std::chrono::steady_clock;

class LaneSchedulerTest : public BusTest {
 protected:
  // A message whose seq is its creation number (stable address).
  InFlight* New() {
    InFlight& m = messages_.emplace_back();
    m.seq = messages_.size() - 1;
    return &m;
  }
  // Enqueues `n` new messages on `lane`; returns them in order.
  std::vector<InFlight*> EnqueueOn(LaneScheduler& s, uint32_t lane, int n) {
    std::vector<InFlight*> ms;
    std::vector<std::pair<uint32_t, InFlight*>> batch;
    for (int i = 0; i < n; ++i) {
      ms.push_back(New());
      batch.emplace_back(lane, ms.back());
    }
    s.Enqueue(batch);
    return ms;
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

// Four workers, messages of five lanes enqueued while they run: no lane is
// ever held by two workers, and each lane's messages run in enqueue order.
TEST_F(LaneSchedulerTest, OneLaneRunsOnOneWorkerAtATimeInFifoOrder) {
  constexpr uint32_t kLanes = 5;
  constexpr int kBatches = 100, kPerBatch = 10, kTotal = kBatches * kPerBatch;
  LaneScheduler s(kLanes);
  std::vector<std::vector<std::pair<uint32_t, InFlight*>>> batches(kBatches);
  std::map<uint32_t, std::vector<uint64_t>> enqueued;
  for (int b = 0; b < kBatches; ++b) {
    for (int i = 0; i < kPerBatch; ++i) {
      InFlight* m = New();
      const uint32_t lane = static_cast<uint32_t>((b * 7 + i * 3) % kLanes);
      batches[static_cast<size_t>(b)].emplace_back(lane, m);
      enqueued[lane].push_back(m->seq);
    }
  }
  std::atomic<bool> busy[kLanes];  // value-initialised: false
  std::atomic<int> overlaps{0};
  Signal signal;
  std::map<uint32_t, std::vector<uint64_t>> ran;
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
            if (busy[t.lane].exchange(true)) overlaps.fetch_add(1);
            for (InFlight* m = t.head; m != nullptr; m = m->next) {
              std::this_thread::yield();  // widen the window another worker could use
              signal.Update([&] {
                ran[t.lane].push_back(m->seq);
                ++done;
              });
            }
            busy[t.lane].store(false);
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
  EXPECT_EQ(overlaps.load(), 0) << "a lane was held by two workers at once";
  EXPECT_EQ(ran, enqueued) << "some lane's messages ran out of enqueue order";
}

// Two lanes, two workers: each worker's handler waits until the other is
// inside too, which only happens when different lanes run in parallel.
TEST_F(LaneSchedulerTest, DifferentLanesRunInParallel) {
  LaneScheduler s(8);
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
    EnqueueOn(s, 3, 1);
    EnqueueOn(s, 6, 1);
    EXPECT_TRUE(s.WaitQuiet(Clock::now() + 20s));
    s.Stop();
  }
  ExpectThreadsAtBaseline();
  EXPECT_TRUE(together) << "two lanes never ran at the same time";
}

// A failing head goes back with the rest of its run, in order, in front of
// what arrived while the run was out; the lane is not run again (messages
// arriving meanwhile queue behind) until MakeReady.
TEST_F(LaneSchedulerTest, ReturnWaitingPutsTheRestBackInFrontInOrder) {
  LaneScheduler s(4);
  const std::vector<InFlight*> m = EnqueueOn(s, 1, 4);
  LaneScheduler::Taken t = TakeOne(s);
  ASSERT_EQ(t.lane, 1u);
  ASSERT_EQ(Seqs(t.head), (std::vector<uint64_t>{0, 1, 2, 3}));
  EnqueueOn(s, 1, 1);  // 4 arrives while the run is out
  // m[0] was handled; m[1] failed and waits for its backoff.
  std::vector<InFlight*> dropped;
  EXPECT_TRUE(s.ReturnWaiting(1, m[1], t.tail, false, dropped));
  EXPECT_TRUE(dropped.empty());
  EXPECT_EQ(s.waiting_lanes(), 1);
  EnqueueOn(s, 1, 1);  // 5 arrives during the backoff
  EXPECT_TRUE(s.WaitQuiet(Clock::now())) << "a waiting lane must not be ready";
  s.MakeReady(1);
  EXPECT_EQ(s.waiting_lanes(), 0);
  t = TakeOne(s);
  EXPECT_EQ(t.lane, 1u);
  EXPECT_EQ(Seqs(t.head), (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  s.ReturnCompleted({1}, dropped);
  EXPECT_TRUE(dropped.empty());
  EXPECT_TRUE(s.WaitQuiet(Clock::now()));
}

TEST_F(LaneSchedulerTest, WaitQuietWaitsForRunningLanesAndDrainingParksWaitingOnes) {
  LaneScheduler s(4);
  const std::vector<InFlight*> m = EnqueueOn(s, 2, 2);
  LaneScheduler::Taken t = TakeOne(s);
  std::vector<InFlight*> dropped;
  ASSERT_TRUE(s.ReturnWaiting(2, m[0], t.tail, false, dropped));  // m[0] failed
  EnqueueOn(s, 3, 1);
  t = TakeOne(s);  // lane 3 running
  ASSERT_EQ(t.lane, 3u);
  EXPECT_FALSE(s.WaitQuiet(Clock::now())) << "lane 3 is running";
  bool quiet = false;
  {
    core::Thread waiter = core::Thread::Start("ls-quiet", "test", bus_,
                                              [&] { quiet = s.WaitQuiet(Clock::now() + 20s); });
    s.ReturnCompleted({3}, dropped);
  }  // joined
  ExpectThreadsAtBaseline();
  EXPECT_TRUE(quiet) << "WaitQuiet must wake when the last running lane is returned";

  // Draining: a lane whose backoff ends stays parked (no retries while closing).
  EXPECT_FALSE(s.draining());
  s.SetDraining();
  EXPECT_TRUE(s.draining());
  s.MakeReady(2);
  EXPECT_EQ(s.waiting_lanes(), 1);
  EXPECT_TRUE(s.WaitQuiet(Clock::now())) << "waiting lanes count as done while draining";
  // Closing then hands the parked messages back.
  EXPECT_EQ(Seqs(s.AbandonAll()), (std::vector<uint64_t>{0, 1}));
}

// Queued, waiting and running lanes at once: AbandonAll returns every queued
// message (ready and waiting lanes), waits until the running lanes come
// back, and their workers get what queued behind them through `dropped`.
TEST_F(LaneSchedulerTest, AbandonAllReturnsEverythingQueuedAndWaitsForRunningLanes) {
  LaneScheduler s(8);
  std::vector<InFlight*> dropped;
  EnqueueOn(s, 2, 2);  // 0,1: lane 2, its head failed and waits for a backoff
  LaneScheduler::Taken w = TakeOne(s);
  ASSERT_TRUE(s.ReturnWaiting(w.lane, w.head, w.tail, false, dropped));
  EnqueueOn(s, 1, 2);                                       // 2,3
  const std::vector<InFlight*> three = EnqueueOn(s, 3, 2);  // 4,5
  LaneScheduler::Taken r1 = TakeOne(s);                     // lane 1: running
  LaneScheduler::Taken r3 = TakeOne(s);                     // lane 3: running
  ASSERT_EQ(r1.lane, 1u);
  ASSERT_EQ(r3.lane, 3u);
  EnqueueOn(s, 0, 3);  // 6,7,8: lane 0, ready
  EnqueueOn(s, 1, 1);  // 9: queued behind the running lane 1

  std::vector<InFlight*> abandoned;
  std::atomic<bool> returned{false};
  {
    core::Thread closer = core::Thread::Start("ls-close", "test", bus_, [&] {
      abandoned = s.AbandonAll();
      returned = true;
    });
    EXPECT_TRUE(Eventually([&] { return s.abandoning(); }));  // no ASSERT: the lanes must go back
    EXPECT_FALSE(returned.load()) << "AbandonAll returned while two lanes were running";
    // Lane 1's run completed: what queued behind it is dropped to its worker.
    std::vector<InFlight*> dropped1;
    s.ReturnCompleted({1}, dropped1);
    EXPECT_EQ(Seqs(dropped1), (std::vector<uint64_t>{9}));
    EXPECT_FALSE(returned.load()) << "lane 3 is still running";
    // Lane 3's head failed: while abandoning nothing goes back; it all drops.
    std::vector<InFlight*> dropped3;
    EXPECT_FALSE(s.ReturnWaiting(3, three[0], r3.tail, false, dropped3));
    EXPECT_EQ(Seqs(dropped3), (std::vector<uint64_t>{4, 5}));
  }  // joined
  ExpectThreadsAtBaseline();
  EXPECT_TRUE(returned.load());
  // Lane 2 (waiting: 0,1) and lane 0 (ready: 6,7,8); lane 1's 2,3 ran.
  EXPECT_EQ(Seqs(abandoned), (std::vector<uint64_t>{0, 1, 6, 7, 8}));
  EXPECT_TRUE(s.WaitQuiet(Clock::now()));
}

// The dead-letter publish of a lane's head: success pops it and the rest
// runs; failure keeps the lane blocked on it (fail closed) until MakeReady
// retries the same head.
TEST_F(LaneSchedulerTest, DeadLetterOutcomesPopOrKeepTheHead) {
  LaneScheduler s(4);
  const std::vector<InFlight*> m = EnqueueOn(s, 0, 3);
  LaneScheduler::Taken t = TakeOne(s);
  std::vector<InFlight*> dropped;
  ASSERT_TRUE(s.ReturnWaiting(0, m[0], t.tail, /*dead_letter_head=*/true, dropped));
  EXPECT_FALSE(s.WaitQuiet(Clock::now())) << "a dead-letter publish is in progress";
  EXPECT_EQ(s.DeadLetterFailed(0), nullptr) << "not abandoning: the head stays";
  EXPECT_EQ(s.waiting_lanes(), 1);
  EXPECT_TRUE(s.WaitQuiet(Clock::now()));
  s.MakeReady(0);  // the publish is retried with the same head
  t = TakeOne(s);
  EXPECT_EQ(Seqs(t.head), (std::vector<uint64_t>{0, 1, 2}));
  ASSERT_TRUE(s.ReturnWaiting(0, m[0], t.tail, /*dead_letter_head=*/true, dropped));
  EXPECT_EQ(s.DeadLetterSucceeded(0), m[0]);
  EXPECT_EQ(s.waiting_lanes(), 0);
  t = TakeOne(s);
  EXPECT_EQ(Seqs(t.head), (std::vector<uint64_t>{1, 2}));
  s.ReturnCompleted({0}, dropped);
  EXPECT_TRUE(dropped.empty());
}

// Abandoning never frees a head whose dead-letter publish is still running:
// the publish's completion hands it back, whatever its outcome.
TEST_F(LaneSchedulerTest, AbandonAllKeepsAHeadInADeadLetterPublishUntilItEnds) {
  LaneScheduler s(4);
  const std::vector<InFlight*> a = EnqueueOn(s, 0, 2);  // 0,1
  const std::vector<InFlight*> b = EnqueueOn(s, 1, 2);  // 2,3
  std::vector<InFlight*> dropped;
  LaneScheduler::Taken t = TakeOne(s);
  ASSERT_TRUE(s.ReturnWaiting(t.lane, t.head, t.tail, true, dropped));
  t = TakeOne(s);
  ASSERT_TRUE(s.ReturnWaiting(t.lane, t.head, t.tail, true, dropped));
  EXPECT_EQ(Seqs(s.AbandonAll()), (std::vector<uint64_t>{1, 3})) << "only what is behind the heads";
  EXPECT_FALSE(s.WaitQuiet(Clock::now())) << "two publishes still in progress";
  EXPECT_EQ(s.DeadLetterFailed(0), a[0]) << "abandoning: a failed publish returns the head";
  EXPECT_EQ(s.DeadLetterSucceeded(1), b[0]);
  EXPECT_TRUE(s.WaitQuiet(Clock::now()));
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
  EnqueueOn(s, 2, 1);
  std::vector<LaneScheduler::Taken> out;
  EXPECT_TRUE(s.Take(out, 4));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].lane, 2u);
  std::vector<InFlight*> dropped;
  s.ReturnCompleted({2}, dropped);
  out.clear();
  EXPECT_FALSE(s.Take(out, 4));
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace evbus::test
