// RetryTimer: each scheduled lane fires at or after its due time, earliest
// first; Stop joins the timer thread and drops what is pending. Then the
// retry backoff a bus applies between attempts (Dispatcher::Backoff is
// private, so it is measured through a bus): it grows by the multiplier from
// initial_backoff, is capped at max_backoff, and jitter never shortens it by
// more than its fraction.

#include "core/retry_timer.h"

#include <map>
#include <vector>

#include "test_support.h"

namespace evbus::test {
namespace {

using core::RetryTimer;
using Clock = RetryTimer::Clock;

class RetryTimerTest : public BusTest {
 protected:
  struct Fired {
    uint32_t lane;
    Clock::time_point at;
  };
  // A timer that records every fire.
  std::unique_ptr<RetryTimer> NewTimer() {
    return std::make_unique<RetryTimer>(bus_, [this](uint32_t lane) {
      const auto now = Clock::now();
      signal_.Update([&] { fired_.push_back({lane, now}); });
    });
  }
  bool WaitForFires(size_t n) {
    return signal_.WaitUntil([&] { return fired_.size() >= n; });
  }
  std::vector<Fired> fired() {
    std::lock_guard<std::mutex> lock(signal_.mutex());
    return fired_;
  }

  const uint64_t bus_ = core::NextBusId();
  Signal signal_;
  std::vector<Fired> fired_;
};

TEST_F(RetryTimerTest, FiresEachLaneAtOrAfterItsDueTimeEarliestFirst) {
  auto timer = NewTimer();
  const auto now = Clock::now();
  // Scheduled out of order; due 20 ms apart.
  const std::map<uint32_t, Clock::time_point> due = {
      {3, now + 60ms}, {1, now + 20ms}, {4, now + 80ms}, {2, now + 40ms}};
  for (uint32_t lane : {3u, 1u, 4u, 2u}) timer->Schedule(lane, due.at(lane));
  ASSERT_TRUE(WaitForFires(4));
  timer->Stop();
  ExpectThreadsAtBaseline();
  const std::vector<Fired> f = fired();
  ASSERT_EQ(f.size(), 4u) << "each lane fires once";
  for (size_t i = 0; i < f.size(); ++i) {
    EXPECT_EQ(f[i].lane, i + 1) << "fire " << i << " out of due order";
    EXPECT_GE(f[i].at, due.at(f[i].lane)) << "lane " << f[i].lane << " fired early";
  }
}

TEST_F(RetryTimerTest, ADueTimeInThePastFiresAtOnce) {
  auto timer = NewTimer();
  timer->Schedule(9, Clock::now() - 1s);
  ASSERT_TRUE(WaitForFires(1));
  EXPECT_EQ(fired()[0].lane, 9u);
  timer.reset();
  ExpectThreadsAtBaseline();
}

// The timer waits for the earliest due time: a lane scheduled later with an
// earlier time must not wait behind one due in an hour.
TEST_F(RetryTimerTest, AnEarlierTimeScheduledLaterIsNotHeldUpByALaterOne) {
  auto timer = NewTimer();
  timer->Schedule(1, Clock::now() + 1h);
  timer->Schedule(0, Clock::now());
  // Lane 0 fired: the timer thread is now (about to be) waiting for lane 1's hour.
  ASSERT_TRUE(WaitForFires(1));
  const auto due = Clock::now() + 10ms;
  timer->Schedule(2, due);
  ASSERT_TRUE(WaitForFires(2));
  const std::vector<Fired> f = fired();
  EXPECT_EQ(f[0].lane, 0u);
  EXPECT_EQ(f[1].lane, 2u);
  EXPECT_GE(f[1].at, due);
  timer->Stop();
  ExpectThreadsAtBaseline();
  EXPECT_EQ(fired().size(), 2u) << "the lane due in an hour was dropped, not fired";
}

// `fire` runs without the timer's lock: it may schedule again (as a lane
// whose retry fails again does).
TEST_F(RetryTimerTest, FireMayScheduleAgain) {
  std::unique_ptr<RetryTimer> timer;
  std::atomic<int> fires{0};
  timer = std::make_unique<RetryTimer>(bus_, [&](uint32_t lane) {
    fires.fetch_add(1);
    if (lane < 5) timer->Schedule(lane + 1, Clock::now());
    signal_.Notify();
  });
  timer->Schedule(1, Clock::now());
  ASSERT_TRUE(signal_.WaitUntil([&] { return fires.load() == 5; }));
  timer->Stop();
  ExpectThreadsAtBaseline();
}

TEST_F(RetryTimerTest, StopJoinsTheThreadAndDropsPendingTimers) {
  auto timer = NewTimer();
  EXPECT_EQ(TakeCensus().CountForBus(bus_), 1u) << "one named thread, registered to its bus";
  timer->Schedule(1, Clock::now() + 1h);
  timer->Schedule(2, Clock::now() + 2h);
  timer->Stop();  // does not wait for the due times
  EXPECT_EQ(TakeCensus().CountForBus(bus_), 0u);
  ExpectThreadsAtBaseline();         // joined: measured at once
  timer->Schedule(3, Clock::now());  // after Stop: ignored
  timer->Stop();                     // idempotent
  timer.reset();
  EXPECT_TRUE(fired().empty());
}

TEST_F(RetryTimerTest, DestroyingTheTimerStopsIt) {
  auto timer = NewTimer();
  timer->Schedule(1, Clock::now() + 1h);
  timer.reset();
  ExpectThreadsAtBaseline();
  EXPECT_TRUE(fired().empty());
}

// --- the backoff between attempts, through a bus ---

class RetryBackoffTest : public BusTest {
 protected:
  // Subscribes a handler that always fails under `policy`, publishes one
  // record, and returns the times of its attempts (all max_attempts of them).
  std::vector<Clock::time_point> AttemptTimes(const RetryPolicy& policy) {
    const std::string name = UniqueName("backoff");
    Config config = MemoryConfig(name);
    Signal signal;
    std::vector<Clock::time_point> attempts;
    {
      auto bus = EventBus::Create(config);
      EXPECT_TRUE(bus.ok()) << bus.status().ToString();
      if (!bus.ok()) return {};
      SubscribeOptions options;
      options.retry = policy;
      EXPECT_TRUE((*bus)
                      ->Subscribe(
                          name,
                          [&](const Record&, const Delivery&) {
                            const auto now = Clock::now();
                            signal.Update([&] { attempts.push_back(now); });
                            return Status(ErrorCode::kHandlerFailed, "always");
                          },
                          options)
                      .ok());
      EXPECT_TRUE((*bus)->Start().ok());
      Record r;
      r.topic = name;
      r.payload = "x";
      EXPECT_TRUE((*bus)->Publish(r).ok());
      // A backoff that is not capped would make this wait time out.
      EXPECT_TRUE(Eventually([&] { return (*bus)->stats().dead_lettered == 1; }, 20s))
          << "not dead-lettered after max_attempts";
      EXPECT_TRUE((*bus)->Close().ok());
    }
    ExpectThreadsAtBaseline();
    std::lock_guard<std::mutex> lock(signal.mutex());
    return attempts;
  }
  static std::chrono::milliseconds Gap(const std::vector<Clock::time_point>& t, size_t i) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t[i + 1] - t[i]);
  }
};

TEST_F(RetryBackoffTest, BackoffGrowsByTheMultiplierAndIsCappedAtMaxBackoff) {
  RetryPolicy policy;
  policy.max_attempts = 4;
  policy.initial_backoff = 20ms;
  policy.multiplier = 100;  // uncapped: 20 ms, 2 s, 200 s
  policy.max_backoff = 50ms;
  policy.jitter = 0;
  const std::vector<Clock::time_point> t = AttemptTimes(policy);
  ASSERT_EQ(t.size(), 4u);
  EXPECT_GE(Gap(t, 0), 20ms) << "the first retry waits initial_backoff";
  EXPECT_GE(Gap(t, 1), 50ms) << "the second waits initial * multiplier, capped at max_backoff";
  EXPECT_GE(Gap(t, 2), 50ms);
  // The upper side of the cap: uncapped, the last retry would wait 200 s and
  // AttemptTimes' 20 s wait for the dead letter would have failed.
}

TEST_F(RetryBackoffTest, JitterShortensABackoffByAtMostItsFraction) {
  RetryPolicy policy;
  policy.max_attempts = 6;
  policy.initial_backoff = 40ms;
  policy.multiplier = 1;
  policy.max_backoff = 40ms;
  policy.jitter = 0.5;  // each backoff in [20 ms, 60 ms]
  const std::vector<Clock::time_point> t = AttemptTimes(policy);
  ASSERT_EQ(t.size(), 6u);
  for (size_t i = 0; i + 1 < t.size(); ++i) EXPECT_GE(Gap(t, i), 20ms) << "retry " << i + 1;
}

}  // namespace
}  // namespace evbus::test
