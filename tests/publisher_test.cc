// Publisher: at most publisher.max_in_flight publishes outstanding (a publish
// waits up to publisher.timeout for room, then fails with QueueFull);
// exactly one completion per accepted publish and none for a refused one;
// Close racing with publishes completes every accepted one (those still
// pending with Closed) before it returns, and never lets a publish reach the
// producer after it closed. Driven over a scripted producer.

#include "core/publisher.h"

#include <deque>
#include <vector>

#include "core/thread.h"
#include "test_support.h"

namespace evbus::test {
namespace {

using core::Publisher;
using Clock = std::chrono::steady_clock;

// A transport producer whose completions the test controls: held until
// CompleteOldest() or Close(), or completed at once.
class ScriptedProducer : public transport::Producer {
 public:
  // Every `n`th Produce is held (0: none, 1: all); the rest complete inline.
  void HoldEvery(int n) {
    std::lock_guard<std::mutex> lock(mu_);
    hold_every_ = n;
  }
  // Every `n`th Produce is refused with QueueFull (0: none).
  void RefuseEvery(int n) {
    std::lock_guard<std::mutex> lock(mu_);
    refuse_every_ = n;
  }

  Status Produce(Record&& record, transport::DeliveryCallback done) override {
    (void)record;
    std::unique_lock<std::mutex> lock(mu_);
    if (closed_) {
      ++after_close_;
      return Closed("producer closed");
    }
    const int64_t n = ++calls_;
    if (refuse_every_ > 0 && n % refuse_every_ == 0) {
      return Status(ErrorCode::kQueueFull, "transport queue full");
    }
    ++accepted_;
    if (hold_every_ > 0 && n % hold_every_ == 0) {
      pending_.push_back(std::move(done));
      cv_.notify_all();
      return Status();
    }
    const int64_t offset = next_offset_++;
    lock.unlock();
    done(Status(), 0, offset);
    return Status();
  }
  // Completes the oldest held publish with `status`; false when none is held.
  bool CompleteOldest(const Status& status) {
    transport::DeliveryCallback done;
    int64_t offset;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (pending_.empty()) return false;
      done = std::move(pending_.front());
      pending_.pop_front();
      offset = next_offset_++;
    }
    done(status, 0, offset);
    return true;
  }
  // Waits until a publish is held or `stop`; true when one is.
  bool WaitHeld(const std::atomic<bool>& stop) {
    std::unique_lock<std::mutex> lock(mu_);
    while (pending_.empty() && !stop.load()) cv_.wait_for(lock, 1ms);
    return !pending_.empty();
  }
  Status Flush(transport::Clock::time_point) override {
    std::lock_guard<std::mutex> lock(mu_);
    flushed_ = true;
    return pending_.empty() ? Status()
                            : Status(ErrorCode::kTimeout,
                                     std::to_string(pending_.size()) + " publishes pending");
  }
  void Close(transport::Clock::time_point) override {
    std::deque<transport::DeliveryCallback> rest;
    {
      std::lock_guard<std::mutex> lock(mu_);
      closed_ = true;
      rest.swap(pending_);
      closed_pending_ = static_cast<int64_t>(rest.size());
    }
    for (auto& done : rest) done(Closed("producer closed"), -1, -1);
  }

  int64_t accepted() {
    std::lock_guard<std::mutex> lock(mu_);
    return accepted_;
  }
  int64_t after_close() {
    std::lock_guard<std::mutex> lock(mu_);
    return after_close_;
  }
  int64_t closed_pending() {
    std::lock_guard<std::mutex> lock(mu_);
    return closed_pending_;
  }
  bool flushed() {
    std::lock_guard<std::mutex> lock(mu_);
    return flushed_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<transport::DeliveryCallback> pending_;
  int hold_every_ = 0;
  int refuse_every_ = 0;
  int64_t calls_ = 0;
  int64_t accepted_ = 0;
  int64_t next_offset_ = 0;
  int64_t after_close_ = 0;
  int64_t closed_pending_ = 0;
  bool closed_ = false;
  bool flushed_ = false;
};

class PublisherTest : public BusTest {
 protected:
  // A publisher over a scripted producer (kept in producer_).
  std::unique_ptr<Publisher> NewPublisher(int64_t max_in_flight, Duration timeout) {
    auto producer = std::make_unique<ScriptedProducer>();
    producer_ = producer.get();
    PublisherConfig config;
    config.max_in_flight = max_in_flight;
    config.timeout = timeout;
    return std::make_unique<Publisher>(std::move(producer), config, counters_);
  }
  static Record NewRecord(int i) {
    Record r;
    r.topic = "t";
    r.key = "k" + std::to_string(i);
    r.payload = std::to_string(i);
    return r;
  }

  core::Counters counters_;
  ScriptedProducer* producer_ = nullptr;
  const uint64_t bus_ = core::NextBusId();
};

TEST_F(PublisherTest, MaxInFlightBoundsOutstandingPublishesThenQueueFull) {
  auto publisher = NewPublisher(2, 100ms);
  producer_->HoldEvery(1);
  std::atomic<int> completions{0};
  auto count = [&](const PublishResult&) { completions.fetch_add(1); };
  ASSERT_OK(publisher->Publish(NewRecord(0), {}, count));
  ASSERT_OK(publisher->Publish(NewRecord(1), {}, count));
  EXPECT_EQ(counters_.publish_in_flight.load(), 2);
  const auto before = Clock::now();
  const Status full = publisher->Publish(NewRecord(2), {}, count);
  EXPECT_EQ(full.code(), ErrorCode::kQueueFull) << full.ToString();
  EXPECT_GE(Clock::now() - before, 100ms) << "QueueFull before publisher.timeout";
  EXPECT_NE(full.ToString().find("max_in_flight"), std::string::npos) << full.ToString();
  EXPECT_EQ(producer_->accepted(), 2) << "a refused publish never reaches the producer";
  EXPECT_EQ(counters_.published_failed.load(), 1u);
  // A completion frees a slot: the next publish is accepted at once.
  ASSERT_TRUE(producer_->CompleteOldest(Status()));
  EXPECT_EQ(completions.load(), 1);
  ASSERT_OK(publisher->Publish(NewRecord(3), {}, count));
  EXPECT_EQ(publisher->Close(Clock::now() + 1s), 2u) << "the two still held complete with Closed";
  EXPECT_EQ(completions.load(), 3) << "one completion per accepted publish, none for the refused";
  EXPECT_EQ(counters_.publish_in_flight.load(), 0);
}

TEST_F(PublisherTest, AWaitingPublishTakesTheSlotACompletionFrees) {
  auto publisher = NewPublisher(1, 60s);
  producer_->HoldEvery(1);
  ASSERT_OK(publisher->Publish(NewRecord(0), {}, nullptr));
  Signal signal;
  std::optional<Status> second;
  {
    core::Thread waiter = core::Thread::Start("pub-wait", "test", bus_, [&] {
      const Status s = publisher->Publish(NewRecord(1), {}, nullptr);
      signal.Update([&] { second = s; });
    });
    ASSERT_TRUE(producer_->CompleteOldest(Status()));
    EXPECT_TRUE(signal.WaitUntil([&] { return second.has_value(); }))
        << "a completion did not wake the waiting publish";
    publisher->StopAccepting();  // should it still wait: it returns Closed at once
  }
  ExpectThreadsAtBaseline();
  ASSERT_TRUE(second.has_value());
  EXPECT_TRUE(second->ok()) << second->ToString();
  EXPECT_EQ(publisher->Close(Clock::now() + 1s), 1u);
}

// Publishes from four threads; the producer completes some inline, holds
// others (completed from a fourth thread, some with an error) and refuses
// some. Every publish that returned OK gets exactly one completion; none
// that returned an error gets any.
TEST_F(PublisherTest, ExactlyOneCompletionPerAcceptedPublish) {
  auto publisher = NewPublisher(8, 10s);
  producer_->HoldEvery(3);
  producer_->RefuseEvery(10);
  constexpr int kThreads = 4, kEach = 500, kTotal = kThreads * kEach;
  std::vector<std::atomic<int>> completions(kTotal);
  std::vector<std::optional<Status>> returned(kTotal);
  std::atomic<int> ok_results{0}, error_results{0};
  std::atomic<bool> stop{false};
  {
    core::Thread completer = core::Thread::Start("pub-done", "test", bus_, [&] {
      for (uint64_t n = 0; producer_->WaitHeld(stop); ++n) {
        producer_->CompleteOldest(n % 7 == 0 ? Status(ErrorCode::kUnavailable, "broker down")
                                             : Status());
      }
    });
    std::vector<core::Thread> publishers;
    for (int t = 0; t < kThreads; ++t) {
      publishers.push_back(core::Thread::Start("pub-send", "test", bus_, [&, t] {
        for (int i = t * kEach; i < (t + 1) * kEach; ++i) {
          returned[static_cast<size_t>(i)] =
              publisher->Publish(NewRecord(i), {}, [&, i](const PublishResult& r) {
                completions[static_cast<size_t>(i)].fetch_add(1);
                (r.status.ok() ? ok_results : error_results).fetch_add(1);
              });
        }
      }));
    }
    for (core::Thread& p : publishers) p.Join();
    // Everything accepted completes without Close (nothing is left held).
    EXPECT_TRUE(Eventually([&] { return counters_.publish_in_flight.load() == 0; }));
    stop = true;
  }
  ExpectThreadsAtBaseline();
  EXPECT_EQ(publisher->Close(Clock::now() + 1s), 0u);
  int accepted = 0;
  for (int i = 0; i < kTotal; ++i) {
    const auto& s = returned[static_cast<size_t>(i)];
    ASSERT_TRUE(s.has_value());
    if (s->ok()) {
      ++accepted;
      EXPECT_EQ(completions[static_cast<size_t>(i)].load(), 1) << "publish " << i;
    } else {
      EXPECT_EQ(s->code(), ErrorCode::kQueueFull) << s->ToString();
      EXPECT_EQ(completions[static_cast<size_t>(i)].load(), 0) << "refused publish " << i;
    }
  }
  EXPECT_EQ(accepted, kTotal - kTotal / 10);
  EXPECT_GT(error_results.load(), 0);
  EXPECT_EQ(ok_results.load() + error_results.load(), accepted);
  EXPECT_EQ(counters_.published_ok.load(), static_cast<uint64_t>(ok_results.load()));
  EXPECT_EQ(counters_.published_failed.load(),
            static_cast<uint64_t>(error_results.load() + kTotal / 10));
}

// Three threads publish until refused while the test closes: publishes wait
// for room (half of them are held), then Close wakes them. When Close
// returns, every accepted publish has completed exactly once, the held ones
// with Closed (as many as Close reports); the producer saw no publish after
// it closed, and later publishes are refused without a completion.
TEST_F(PublisherTest, CloseRacingPublishesCompletesEveryAcceptedOne) {
  auto publisher = NewPublisher(64, 10s);
  producer_->HoldEvery(2);
  constexpr int kThreads = 3;
  std::atomic<int64_t> accepted{0}, completed{0}, closed_results{0}, twice{0};
  int64_t completed_at_close = -1;
  uint64_t reported_closed = 0;
  {
    std::vector<core::Thread> publishers;
    for (int t = 0; t < kThreads; ++t) {
      publishers.push_back(core::Thread::Start("pub-send", "test", bus_, [&, t] {
        for (int i = 0;; ++i) {
          auto seen = std::make_shared<std::atomic<bool>>(false);
          const Status s = publisher->Publish(NewRecord(t * 1'000'000 + i), {},
                                              [&, seen](const PublishResult& r) {
                                                if (seen->exchange(true)) twice.fetch_add(1);
                                                if (r.status.code() == ErrorCode::kClosed)
                                                  closed_results.fetch_add(1);
                                                completed.fetch_add(1);
                                              });
          if (!s.ok()) {
            EXPECT_EQ(s.code(), ErrorCode::kClosed) << s.ToString();
            return;
          }
          accepted.fetch_add(1);
        }
      }));
    }
    // Close once the publishers are stuck on a full queue of held publishes.
    EXPECT_TRUE(Eventually([&] { return counters_.publish_in_flight.load() == 64; }));
    reported_closed = publisher->Close(Clock::now() + 5s);
    completed_at_close = completed.load();
  }  // publishers joined
  ExpectThreadsAtBaseline();
  EXPECT_EQ(completed_at_close, accepted.load()) << "every accepted publish completed by Close()";
  EXPECT_EQ(twice.load(), 0);
  EXPECT_TRUE(producer_->flushed()) << "Close flushes before it closes the producer";
  EXPECT_GT(closed_results.load(), 0);
  EXPECT_EQ(closed_results.load(), producer_->closed_pending());
  EXPECT_EQ(reported_closed, static_cast<uint64_t>(closed_results.load()));
  EXPECT_EQ(producer_->after_close(), 0) << "a publish reached the producer after it closed";
  EXPECT_EQ(counters_.publish_in_flight.load(), 0);
  bool called = false;
  EXPECT_EQ(
      publisher->Publish(NewRecord(0), {}, [&](const PublishResult&) { called = true; }).code(),
      ErrorCode::kClosed);
  EXPECT_FALSE(called);
}

TEST_F(PublisherTest, TheResultSinkGetsEveryUserResultOnceAndMustComeFirst) {
  auto publisher = NewPublisher(100, 1s);
  std::vector<std::string> sunk;
  ASSERT_OK(publisher->SetResultSink([&](const PublishResult& r) { sunk.push_back(r.event_id); }));
  Publisher::Meta user;
  user.event_id = "e1";
  Publisher::Meta internal;
  internal.event_id = "health";
  internal.internal = true;
  int own = 0;
  ASSERT_OK(publisher->Publish(NewRecord(0), user, [&](const PublishResult& r) {
    ++own;
    EXPECT_EQ(r.event_id, "e1");
    EXPECT_TRUE(r.status.ok());
  }));
  ASSERT_OK(publisher->Publish(NewRecord(1), internal, nullptr));
  EXPECT_EQ(own, 1);
  EXPECT_EQ(sunk, (std::vector<std::string>{"e1"}))
      << "internal publishes are not given to the sink";
  EXPECT_EQ(publisher->SetResultSink([](const PublishResult&) {}).code(),
            ErrorCode::kFailedPrecondition);
  EXPECT_EQ(publisher->Close(Clock::now() + 1s), 0u);
}

}  // namespace
}  // namespace evbus::test
