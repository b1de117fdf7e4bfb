// What the dead-letter tests share: a bus whose handler fails every record
// of a topic into its dead-letter topic until the test "fixes" it, then
// counts what it gets; and a count of a topic's records read without a group.

#ifndef EVBUS_TESTS_DEAD_LETTER_SUPPORT_H_
#define EVBUS_TESTS_DEAD_LETTER_SUPPORT_H_

#include <map>
#include <string>
#include <vector>

#include "test_support.h"
#include "transport/transport.h"

namespace evbus::test {

inline constexpr char kTraceparent[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

// Two attempts, no backoff: a failing record reaches the dead-letter topic at once.
inline void UseQuickDeadLetters(Config& config) {
  config.subscriber.retry.max_attempts = 2;
  config.subscriber.retry.initial_backoff = std::chrono::milliseconds(0);
  config.subscriber.retry.max_backoff = std::chrono::milliseconds(0);
}

class DeadLetterScenario {
 public:
  explicit DeadLetterScenario(std::string topic) : topic_(std::move(topic)) {}

  // Subscribes the handler and starts `bus`, publishes three envelopes
  // (aggregates billing-1..3, failing with "billing down") and one raw record
  // (key address-1, a traceparent header, failing with "bad address"), and
  // waits until all four are dead-lettered.
  void Run(EventBus& bus) {
    ASSERT_OK(bus.Subscribe(topic_, [this](const Record& r, const Delivery&) {
      Status result;
      signal_.Update([&] {
        if (fixed_) {
          ++handled_[r.key];
        } else {
          result = Status(ErrorCode::kHandlerFailed,
                          r.key.starts_with("billing") ? "billing down" : "bad address");
        }
      });
      return result;
    }));
    ASSERT_OK(bus.Start());
    for (int i = 1; i <= 3; ++i) {
      Envelope e = NewEnvelope("billing-" + std::to_string(i), "InvoiceDue", 1,
                               "{\"n\":" + std::to_string(i) + "}");
      event_ids_.push_back(e.event_id);
      ASSERT_OK(bus.PublishEnvelope(topic_, e));
    }
    Record raw;
    raw.topic = topic_;
    raw.key = "address-1";
    raw.payload = "not an envelope";
    raw.headers.push_back({"traceparent", kTraceparent});
    ASSERT_OK(bus.Publish(std::move(raw)));
    ASSERT_TRUE(Eventually([&] { return bus.stats().dead_lettered == 4; }, 30s))
        << bus.stats().dead_lettered << " of 4 dead-lettered";
  }

  // From now on the handler succeeds and counts each record by key.
  void Fix() {
    signal_.Update([&] { fixed_ = true; });
  }
  // Waits until the handler has had `n` records since Fix().
  bool WaitHandled(int n) {
    return signal_.WaitUntil(
        [&] {
          int total = 0;
          for (const auto& [key, count] : handled_) total += count;
          return total >= n;
        },
        30s);
  }
  std::map<std::string, int> handled() {
    std::lock_guard<std::mutex> lock(signal_.mutex());
    return handled_;
  }
  const std::string& topic() const { return topic_; }
  std::string dlq() const { return topic_ + ".dlq"; }
  const std::vector<std::string>& event_ids() const { return event_ids_; }

 private:
  const std::string topic_;
  std::vector<std::string> event_ids_;
  Signal signal_;
  bool fixed_ = false;
  std::map<std::string, int> handled_;
};

// Every record `topic` holds, read without a group; fails the test on error.
inline std::vector<Record> ReadAll(transport::Transport& t, const std::string& topic) {
  std::vector<Record> out;
  Status s = t.ReadTopic(topic, [&](const Record& r, int64_t) {
    out.push_back(r);
    return true;
  });
  EXPECT_TRUE(s.ok()) << topic << ": " << s.ToString();
  return out;
}

}  // namespace evbus::test

#endif  // EVBUS_TESTS_DEAD_LETTER_SUPPORT_H_
