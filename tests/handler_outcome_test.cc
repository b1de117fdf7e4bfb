// What a handler's outcome does (handler.h): the handler timeout cancels the
// call's token and fails the attempt; Permanent dead-letters at once; Close
// cancels calls under a timeout as it cancels the others.

#include "test_support.h"

namespace evbus::test {
namespace {

class HandlerOutcomeTest : public BusTest {
 protected:
  void TearDown() override { ExpectThreadsAtBaseline(); }

  // Publishes one record with key `key` to `topic`.
  static void PublishOne(EventBus& bus, const std::string& topic, const std::string& key) {
    Record r;
    r.topic = topic;
    r.key = key;
    r.payload = "p-" + key;
    ASSERT_OK(bus.Publish(std::move(r)));
  }
};

struct DeadLetters {
  Signal signal;
  std::vector<Record> records;
  Status Collect(const Record& r) {
    signal.Update([&] { records.push_back(r); });
    return Status();
  }
};

TEST_F(HandlerOutcomeTest, TimeoutCancelsTheCallAndCountsAsAFailedAttempt) {
  Config config = MemoryConfig(UniqueName("timeout"));
  config.subscriber.handler_timeout = 30ms;
  config.subscriber.retry.max_attempts = 3;
  auto bus = EventBus::Create(config);
  ASSERT_TRUE(bus.ok());

  Signal signal;
  int attempts = 0, cancelled_in_time = 0, fast_handled = 0;
  // "slow" ignores nothing: it waits on its token, which only the timeout
  // cancels, and then returns OK — too late, the attempt failed.
  ASSERT_OK((*bus)->Subscribe("slow", [&](const Record&, const Delivery& d) {
    const bool cancelled = d.cancel.WaitFor(20s);
    signal.Update([&] {
      ++attempts;
      cancelled_in_time += cancelled ? 1 : 0;
    });
    return Status();
  }));
  // "fast" returns well within the same timeout: untouched.
  ASSERT_OK((*bus)->Subscribe("fast", [&](const Record&, const Delivery& d) {
    EXPECT_FALSE(d.cancel.cancelled());
    signal.Update([&] { ++fast_handled; });
    return Status();
  }));
  DeadLetters dlq;
  ASSERT_OK((*bus)->Subscribe("slow.dlq",
                              [&](const Record& r, const Delivery&) { return dlq.Collect(r); }));
  ASSERT_OK((*bus)->Start());
  PublishOne(**bus, "slow", "order-1");
  for (int i = 0; i < 20; ++i) PublishOne(**bus, "fast", "k" + std::to_string(i));

  ASSERT_TRUE(dlq.signal.WaitUntil([&] { return dlq.records.size() == 1; }));
  ASSERT_TRUE(signal.WaitUntil([&] { return fast_handled == 20 && attempts == 3; }));
  EXPECT_EQ(cancelled_in_time, 3) << "each timed-out call must see its token cancelled";
  const Record& dead = dlq.records[0];
  EXPECT_EQ(dead.key, "order-1");
  EXPECT_EQ(FindHeader(dead.headers, "X-Attempts").value_or(""), "3");
  const std::string error(FindHeader(dead.headers, "X-Error").value_or(""));
  EXPECT_NE(error.find("Timeout: handler still running after its handler_timeout 30ms"),
            std::string::npos)
      << error;
  // 20 fast + the dead letter read back (counted just after its handler returns).
  EXPECT_TRUE(Eventually([&] { return (*bus)->stats().handled == 21; }));
  const BusStats stats = (*bus)->stats();
  EXPECT_EQ(stats.failed, 3u);
  EXPECT_EQ(stats.retried, 2u);
  auto report = (*bus)->Close();
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->status.ok()) << report->ToString();
}

TEST_F(HandlerOutcomeTest, PerSubscriptionTimeoutOverridesTheConfig) {
  Config config = MemoryConfig(UniqueName("timeout-override"));
  config.subscriber.handler_timeout = 1h;  // none bus-wide
  config.subscriber.retry.max_attempts = 1;
  auto bus = EventBus::Create(config);
  ASSERT_TRUE(bus.ok());
  SubscribeOptions options;
  options.handler_timeout = 20ms;
  ASSERT_OK((*bus)->Subscribe(
      "t",
      [&](const Record&, const Delivery& d) {
        return d.cancel.WaitFor(20s) ? Status(ErrorCode::kCancelled, "gave up") : Status();
      },
      options));
  DeadLetters dlq;
  ASSERT_OK(
      (*bus)->Subscribe("t.dlq", [&](const Record& r, const Delivery&) { return dlq.Collect(r); }));
  ASSERT_OK((*bus)->Start());
  PublishOne(**bus, "t", "a");
  // kCancelled from a timed-out call is the timeout's failure, not Close's:
  // it is dead-lettered (max_attempts 1), not parked for redelivery.
  ASSERT_TRUE(dlq.signal.WaitUntil([&] { return dlq.records.size() == 1; }));
  const std::string error(FindHeader(dlq.records[0].headers, "X-Error").value_or(""));
  EXPECT_NE(error.find("handler_timeout 20ms; cancelled, then returned Cancelled: gave up"),
            std::string::npos)
      << error;
  ASSERT_TRUE((*bus)->Close().ok());
}

TEST_F(HandlerOutcomeTest, PermanentDeadLettersAtOnceWithItsReason) {
  Config config = MemoryConfig(UniqueName("permanent"));
  config.subscriber.retry.max_attempts = 5;
  auto bus = EventBus::Create(config);
  ASSERT_TRUE(bus.ok());
  std::atomic<int> calls{0};
  ASSERT_OK((*bus)->Subscribe("orders", [&](const Record&, const Delivery&) {
    ++calls;
    return Permanent("order total is negative");
  }));
  DeadLetters dlq;
  ASSERT_OK((*bus)->Subscribe("orders.dlq",
                              [&](const Record& r, const Delivery&) { return dlq.Collect(r); }));
  ASSERT_OK((*bus)->Start());
  PublishOne(**bus, "orders", "order-7");
  ASSERT_TRUE(dlq.signal.WaitUntil([&] { return dlq.records.size() == 1; }));
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(FindHeader(dlq.records[0].headers, "X-Attempts").value_or(""), "1");
  EXPECT_EQ(FindHeader(dlq.records[0].headers, "X-Error").value_or(""),
            "Permanent: order total is negative");
  EXPECT_EQ((*bus)->stats().retried, 0u);
  ASSERT_TRUE((*bus)->Close().ok());
}

TEST_F(HandlerOutcomeTest, CloseCancelsACallUnderATimeoutAndLeavesItForRedelivery) {
  Config config = MemoryConfig(UniqueName("timeout-close"));
  config.subscriber.handler_timeout = 1h;
  auto bus = EventBus::Create(config);
  ASSERT_TRUE(bus.ok());
  Signal signal;
  bool running = false, saw_cancel = false;
  ASSERT_OK((*bus)->Subscribe("t", [&](const Record&, const Delivery& d) {
    signal.Update([&] { running = true; });
    const bool cancelled = d.cancel.WaitFor(20s);
    signal.Update([&] { saw_cancel = cancelled; });
    return Status(ErrorCode::kCancelled, "closing");
  }));
  ASSERT_OK((*bus)->Start());
  PublishOne(**bus, "t", "a");
  ASSERT_TRUE(signal.WaitUntil([&] { return running; }));
  auto report = (*bus)->Close(200ms);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->status.code(), ErrorCode::kTimeout) << report->ToString();
  EXPECT_EQ(report->abandoned, 1u);
  EXPECT_LT(report->duration, 10s);
  EXPECT_TRUE(saw_cancel);
  EXPECT_EQ((*bus)->stats().dead_lettered, 0u);
}

TEST_F(HandlerOutcomeTest, NegativeTimeoutIsRejectedNamingIt) {
  auto bus = EventBus::Create(MemoryConfig(UniqueName("timeout-negative")));
  ASSERT_TRUE(bus.ok());
  SubscribeOptions options;
  options.handler_timeout = -1ms;
  Status s = (*bus)->Subscribe(
      "t", [](const Record&, const Delivery&) { return Status(); }, options);
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(s.message().find("handler_timeout -1000000ns"), std::string::npos) << s.ToString();
  ASSERT_TRUE((*bus)->Close().ok());
}

}  // namespace
}  // namespace evbus::test
