// The at-most-once contract of an ephemeral topic (Persistence::kEphemeral),
// checked the same way on every transport.

#ifndef EVBUS_TESTS_EPHEMERAL_SUPPORT_H_
#define EVBUS_TESTS_EPHEMERAL_SUPPORT_H_

#include <map>
#include <memory>
#include <set>
#include <string>

#include "test_support.h"

namespace evbus::test {

// Records take their keys from this many ("key-0".."key-6"), so they spread
// over every partition that the probes below prove is being read.
constexpr int kEphemeralKeys = 7;

// What a subscriber of the ephemeral topic received, by the "phase" header.
struct EphemeralTally {
  Signal signal;
  std::map<std::string, int> by_phase;  // guarded by signal's mutex
  std::set<std::string> probed_keys;    // keys of the probes received; guarded too

  int Count(const std::string& phase) {
    std::lock_guard<std::mutex> lock(signal.mutex());
    auto it = by_phase.find(phase);
    return it == by_phase.end() ? 0 : it->second;
  }
};

// Publishes `n` records of `phase` and waits until each is acknowledged.
inline void PublishPhase(EventBus& bus, const std::string& topic, const std::string& phase, int n) {
  Signal done;
  int ok = 0, failed = 0;
  for (int i = 0; i < n; ++i) {
    Record r;
    r.topic = topic;
    r.key = "key-" + std::to_string(i % kEphemeralKeys);
    r.headers = {{"phase", phase}};
    r.payload = phase + "-" + std::to_string(i);
    ASSERT_OK(bus.Publish(std::move(r), [&](const PublishResult& res) {
      done.Update([&] { ++(res.status.ok() ? ok : failed); });
    }));
  }
  ASSERT_TRUE(done.WaitUntil([&] { return ok + failed == n; }));
  EXPECT_EQ(failed, 0) << phase;
}

// Publishes a probe on every key until the subscriber has received one of
// each: from then on it reads every partition those keys map to. (An
// ephemeral reader only sees what is published while it reads, and Kafka
// resolves each partition's latest offset on its own, so one probe proves
// one partition only.)
inline bool WaitUntilReading(EventBus& publisher, const std::string& topic, EphemeralTally& tally) {
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    PublishPhase(publisher, topic, "probe", kEphemeralKeys);
    if (tally.signal.WaitUntil(
            [&] { return tally.probed_keys.size() == static_cast<size_t>(kEphemeralKeys); },
            100ms)) {
      return true;
    }
  }
  return false;
}

inline std::unique_ptr<EventBus> EphemeralSubscriber(const Config& config, const std::string& topic,
                                                     EphemeralTally& tally) {
  auto bus = EventBus::Create(config);
  EXPECT_TRUE(bus.ok()) << bus.status().ToString();
  if (!bus.ok()) return nullptr;
  EXPECT_OK((*bus)->Subscribe(topic, [&tally](const Record& r, const Delivery&) {
    const std::string phase(FindHeader(r.headers, "phase").value_or("none"));
    tally.signal.Update([&] {
      ++tally.by_phase[phase];
      if (phase == "probe") tally.probed_keys.insert(r.key);
    });
    return Status();
  }));
  EXPECT_OK((*bus)->Start());
  return std::move(bus).value();
}

// Checks, on `config`'s transport, with `topic` made ephemeral:
//   - what is published before anyone subscribes is never delivered;
//   - what is published while a member reads is delivered, once each;
//   - what is published while the group has no member is never delivered:
//     a member that comes back starts at the end (nothing was committed).
inline void CheckEphemeralTopic(Config config, const std::string& topic) {
  TopicConfig ephemeral;
  ephemeral.persistence = Persistence::kEphemeral;
  config.topics[topic] = ephemeral;
  auto publisher = EventBus::Create(config);
  ASSERT_TRUE(publisher.ok()) << publisher.status().ToString();
  PublishPhase(**publisher, topic, "before", 20);

  EphemeralTally first;
  {
    std::unique_ptr<EventBus> sub = EphemeralSubscriber(config, topic, first);
    ASSERT_NE(sub, nullptr);
    ASSERT_TRUE(WaitUntilReading(**publisher, topic, first)) << "no probe came through";
    PublishPhase(**publisher, topic, "during", 50);
    EXPECT_TRUE(first.signal.WaitUntil([&] { return first.by_phase["during"] >= 50; }));
    ASSERT_TRUE(sub->Close().ok());
  }
  PublishPhase(**publisher, topic, "missed", 20);

  EphemeralTally second;
  {
    std::unique_ptr<EventBus> sub = EphemeralSubscriber(config, topic, second);
    ASSERT_NE(sub, nullptr);
    ASSERT_TRUE(WaitUntilReading(**publisher, topic, second)) << "no probe came through";
    PublishPhase(**publisher, topic, "after", 10);
    EXPECT_TRUE(second.signal.WaitUntil([&] { return second.by_phase["after"] >= 10; }));
    ASSERT_TRUE(sub->Close().ok());
  }
  ASSERT_TRUE((*publisher)->Close().ok());

  EXPECT_EQ(first.Count("before"), 0) << "published before anyone subscribed";
  EXPECT_EQ(first.Count("during"), 50) << "each once while subscribed";
  EXPECT_EQ(first.Count("missed") + second.Count("missed"), 0)
      << "published while the group had no member";
  EXPECT_EQ(second.Count("before"), 0);
  EXPECT_EQ(second.Count("during"), 0) << "a returning member starts at the end";
  EXPECT_EQ(second.Count("after"), 10);
}

}  // namespace evbus::test

#endif  // EVBUS_TESTS_EPHEMERAL_SUPPORT_H_
