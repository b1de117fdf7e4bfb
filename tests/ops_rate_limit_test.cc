// Rate limiting: the token bucket itself, on publish, and on handler
// dispatch per subscription (no worker sleeps: the lane waits on the timer).

#include "ops/rate_limiter.h"
#include "test_support.h"

namespace evbus::test {
namespace {

TEST(OpsRateLimiter, BurstThenOneTokenPerInterval) {
  ops::RateLimiter limiter(100, 5);  // 10ms per token, 5 at once
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i) EXPECT_EQ(limiter.TryAcquire(t0).count(), 0) << i;
  const auto wait = limiter.TryAcquire(t0);
  EXPECT_GT(wait, 0ns);
  EXPECT_LE(wait, 10ms);
  EXPECT_EQ(limiter.TryAcquire(t0 + wait).count(), 0);  // nothing was taken while refused
  EXPECT_GT(limiter.TryAcquire(t0 + wait).count(), 0);
  EXPECT_EQ(limiter.TryAcquire(t0 + 1s).count(), 0);  // refilled
  EXPECT_EQ(ops::RateLimiter::Make(0, 10), nullptr);  // 0 = unlimited
  EXPECT_EQ(ops::RateLimiter(2.5, 0).burst(), 3);     // default burst: one second's worth
}

class OpsRateLimitTest : public BusTest {
 protected:
  void TearDown() override { ExpectThreadsAtBaseline(); }
};

TEST_F(OpsRateLimitTest, PublishIsPacedAndFailsWhenNoTokenComesInTime) {
  Config config = MemoryConfig(UniqueName("rate-pub"));
  config.publisher.rate_limit = 200;  // 5ms per publish
  config.publisher.rate_burst = 1;
  auto bus = EventBus::Create(config);
  ASSERT_TRUE(bus.ok());
  const auto start = std::chrono::steady_clock::now();
  Record r;
  r.topic = "t";
  for (int i = 0; i < 11; ++i) ASSERT_OK((*bus)->Publish(r));
  // 11 publishes at 200/s cannot take less than 10 intervals (a lower bound only).
  EXPECT_GE(std::chrono::steady_clock::now() - start, 50ms);
  EXPECT_GT((*bus)->stats().publish_rate_waits, 0u);
  ASSERT_TRUE((*bus)->Close().ok());

  config.publisher.rate_limit = 0.5;  // one token every two seconds
  config.publisher.timeout = 10ms;
  auto slow = EventBus::Create(config);
  ASSERT_TRUE(slow.ok());
  ASSERT_OK((*slow)->Publish(r));
  Status s = (*slow)->Publish(r);
  EXPECT_EQ(s.code(), ErrorCode::kQueueFull);
  EXPECT_NE(s.message().find("publisher.rate_limit"), std::string::npos) << s.ToString();
  ASSERT_TRUE((*slow)->Close().ok());
}

TEST_F(OpsRateLimitTest, HandlerDispatchIsPacedPerSubscription) {
  Config config = MemoryConfig(UniqueName("rate-sub"));
  auto bus = EventBus::Create(config);
  ASSERT_TRUE(bus.ok());
  std::atomic<int> slow_handled{0};
  std::atomic<int> fast_handled{0};
  SubscribeOptions limited;
  limited.rate_limit = 200;  // 5ms per message
  limited.rate_burst = 1;
  ASSERT_OK((*bus)->Subscribe(
      "slow",
      [&](const Record&, const Delivery&) {
        ++slow_handled;
        return Status();
      },
      limited));
  ASSERT_OK((*bus)->Subscribe("fast", [&](const Record&, const Delivery&) {
    ++fast_handled;
    return Status();
  }));
  ASSERT_OK((*bus)->Start());
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 11; ++i) {
    Record r;
    r.topic = "slow";
    r.key = "k" + std::to_string(i);
    ASSERT_OK((*bus)->Publish(r));
    r.topic = "fast";
    ASSERT_OK((*bus)->Publish(r));
  }
  ASSERT_TRUE(Eventually([&] { return slow_handled == 11 && fast_handled == 11; }));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 50ms);
  EXPECT_GT((*bus)->stats().dispatch_throttled, 0u);
  EXPECT_EQ((*bus)->stats().retried, 0u);  // throttling is not a retry
  EXPECT_EQ((*bus)->stats().failed, 0u);
  ASSERT_TRUE((*bus)->Close().ok());
}

TEST_F(OpsRateLimitTest, NegativeRateIsRejected) {
  Config config = MemoryConfig(UniqueName("rate-neg"));
  auto bus = EventBus::Create(config);
  ASSERT_TRUE(bus.ok());
  SubscribeOptions o;
  o.rate_limit = -1;
  Status s = (*bus)->Subscribe(
      "t", [](const Record&, const Delivery&) { return Status(); }, o);
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  config.subscriber.rate_limit = -1;
  EXPECT_NE(ValidateConfig(config).message().find("subscriber.rate_limit"), std::string::npos);
  ASSERT_TRUE((*bus)->Close().ok());
}

}  // namespace
}  // namespace evbus::test
