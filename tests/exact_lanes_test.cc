// Issue 13, item 5 ("exact per-key lanes"): a key waiting out a retry
// backoff holds back only its own later messages — not the other keys, of
// any topic, that once shared its hashed lane. With `subscriber.lanes = 1`
// every key of the old design shared one lane, so these tests would wait the
// whole backoff there.

#include <map>
#include <string>
#include <vector>

#include "test_support.h"

namespace evbus::test {
namespace {

class ExactLanesTest : public BusTest {
 protected:
  void TearDown() override { ExpectThreadsAtBaseline(); }

  static void PublishOne(EventBus& bus, const std::string& topic, const std::string& key,
                         const std::string& payload) {
    Record r;
    r.topic = topic;
    r.key = key;
    r.payload = payload;
    ASSERT_OK(bus.Publish(std::move(r)));
  }

  // One partition per topic, one lane slot, and a retry backoff far longer
  // than the other keys need, so anything stuck behind "A" shows.
  static Config IsolationConfig(const std::string& broker) {
    Config config = MemoryConfig(broker);
    config.memory.partitions = 1;
    config.subscriber.lanes = 1;
    config.subscriber.retry.max_attempts = 3;
    config.subscriber.retry.initial_backoff = 3s;
    config.subscriber.retry.max_backoff = 3s;
    config.subscriber.retry.jitter = 0;
    return config;
  }
};

TEST_F(ExactLanesTest, AKeyInBackoffHoldsBackOnlyItsOwnLaterMessages) {
  auto bus = EventBus::Create(IsolationConfig(UniqueName("exact-lanes")));
  ASSERT_TRUE(bus.ok());
  constexpr int kOthersPerTopic = 100;
  Signal signal;
  std::vector<std::string> a_calls;  // A's handler calls, in call order
  int others = 0;
  bool others_done_before_a_retried = false;
  auto handler = [&](const Record& r, const Delivery& d) {
    bool fail = false;
    signal.Update([&] {
      if (r.key == "A") {
        a_calls.push_back(r.payload + "#" + std::to_string(d.attempt));
        fail = r.payload == "A0" && d.attempt == 1;
      } else {
        ++others;
        if (others == 2 * kOthersPerTopic && a_calls.size() == 1) {
          others_done_before_a_retried = true;
        }
      }
    });
    return fail ? Status(ErrorCode::kUnavailable, "A0 fails once") : Status();
  };
  ASSERT_OK((*bus)->Subscribe("orders", handler));
  ASSERT_OK((*bus)->Subscribe("payments", handler));
  ASSERT_OK((*bus)->Start());

  // A0 first: its failure starts A's backoff ahead of everything else.
  PublishOne(**bus, "orders", "A", "A0");
  for (int i = 0; i < kOthersPerTopic; ++i) {
    PublishOne(**bus, "orders", "k" + std::to_string(i), "o");
    PublishOne(**bus, "payments", "p" + std::to_string(i), "p");
    if (i == kOthersPerTopic / 3) PublishOne(**bus, "orders", "A", "A1");
    if (i == 2 * kOthersPerTopic / 3) PublishOne(**bus, "orders", "A", "A2");
  }

  // Every other key is handled while A still waits (the backoff is 3 s; the
  // wait also ends if A's retry comes first, which is the failure).
  ASSERT_TRUE(signal.WaitUntil([&] { return others == 2 * kOthersPerTopic || a_calls.size() > 1; }))
      << "others handled: " << others;
  {
    std::lock_guard<std::mutex> lock(signal.mutex());
    EXPECT_TRUE(others_done_before_a_retried)
        << "only " << others << " of " << 2 * kOthersPerTopic
        << " other messages were handled before A's retry; A's calls so far: " << a_calls.size();
    EXPECT_EQ(a_calls, (std::vector<std::string>{"A0#1"}))
        << "A's later messages ran while A0 waited for its retry";
  }
  // Then A's retry succeeds and its later messages follow, in order.
  ASSERT_TRUE(signal.WaitUntil([&] { return a_calls.size() == 4; }, 30s));
  {
    std::lock_guard<std::mutex> lock(signal.mutex());
    EXPECT_EQ(a_calls, (std::vector<std::string>{"A0#1", "A0#2", "A1#1", "A2#1"}));
    EXPECT_EQ(others, 2 * kOthersPerTopic);
  }
  auto report = (*bus)->Close();
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->status.ok()) << report->ToString();
  EXPECT_EQ(report->abandoned, 0u);
}

// Ordering::kNone promises no order: a failing message must not hold back
// any other, not even one with the same key.
TEST_F(ExactLanesTest, WithoutOrderingNoMessageWaitsBehindAnothersBackoff) {
  auto bus = EventBus::Create(IsolationConfig(UniqueName("exact-lanes-none")));
  ASSERT_TRUE(bus.ok());
  constexpr int kOthers = 100;
  Signal signal;
  int first_calls = 0, others = 0;
  bool others_done_before_retry = false;
  SubscribeOptions options;
  options.ordering = Ordering::kNone;
  ASSERT_OK((*bus)->Subscribe(
      "events",
      [&](const Record& r, const Delivery& d) {
        bool fail = false;
        signal.Update([&] {
          if (r.payload == "first") {
            ++first_calls;
            fail = d.attempt == 1;
          } else if (++others == kOthers && first_calls == 1) {
            others_done_before_retry = true;
          }
        });
        return fail ? Status(ErrorCode::kUnavailable, "fails once") : Status();
      },
      options));
  ASSERT_OK((*bus)->Start());
  PublishOne(**bus, "events", "same", "first");
  for (int i = 0; i < kOthers; ++i) PublishOne(**bus, "events", "same", "later");
  ASSERT_TRUE(signal.WaitUntil([&] { return others == kOthers || first_calls > 1; }));
  {
    std::lock_guard<std::mutex> lock(signal.mutex());
    EXPECT_TRUE(others_done_before_retry) << others << " of " << kOthers << " before the retry";
  }
  ASSERT_TRUE(signal.WaitUntil([&] { return first_calls == 2; }, 30s));
  auto report = (*bus)->Close();
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->status.ok()) << report->ToString();
}

}  // namespace
}  // namespace evbus::test
