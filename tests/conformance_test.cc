// The conformance suite: one set of behaviours every transport must show.
// Parameterised by transport; the memory broker runs it always, Kafka and
// NATS add themselves in their own files when their servers are available.

#include "conformance.h"

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <thread>

namespace evbus::test {
namespace {

// Records (key, version) pairs in handling order and checks them.
class OrderLog {
 public:
  void Add(const std::string& key, int64_t version) {
    signal_.Update([&] {
      auto& seen = by_key_[key];
      if (seen.count(version) != 0) {
        ++duplicates_;
      } else {
        // A first-time version must be exactly one past the highest seen.
        const int64_t expected = seen.empty() ? 1 : *seen.rbegin() + 1;
        if (version != expected) ++violations_;
        seen.insert(version);
        ++unique_;
      }
    });
  }
  bool WaitForUnique(size_t n, std::chrono::milliseconds timeout = 30s) {
    return signal_.WaitUntil([&] { return unique_ >= n; }, timeout);
  }
  size_t unique() {
    std::lock_guard<std::mutex> lock(signal_.mutex());
    return unique_;
  }
  size_t violations() {
    std::lock_guard<std::mutex> lock(signal_.mutex());
    return violations_;
  }
  size_t duplicates() {
    std::lock_guard<std::mutex> lock(signal_.mutex());
    return duplicates_;
  }
  Signal& signal() { return signal_; }

 private:
  Signal signal_;
  std::map<std::string, std::set<int64_t>> by_key_;
  size_t unique_ = 0;
  size_t violations_ = 0;
  size_t duplicates_ = 0;
};

// Subscribes `bus` to `topic`, appending every record to `out` under `signal`.
Status CollectInto(EventBus& bus, const std::string& topic, Signal& signal,
                   std::vector<Record>& out) {
  return bus.Subscribe(topic, [&](const Record& r, const Delivery&) {
    signal.Update([&] { out.push_back(r); });
    return Status();
  });
}

// Publishes `versions` events for each of `keys` aggregates, interleaved.
void PublishOrdered(EventBus& bus, const std::string& topic, int keys, int versions,
                    int first_version = 1) {
  for (int v = first_version; v < first_version + versions; ++v) {
    for (int k = 0; k < keys; ++k) {
      Envelope e = NewEnvelope("agg-" + std::to_string(k), "Tested", v,
                               R"({"v":)" + std::to_string(v) + "}");
      ASSERT_TRUE(bus.PublishEnvelope(topic, e).ok());
    }
  }
}

TEST_P(ConformanceTest, PerKeyOrderHoldsWhileKeysRunInParallel) {
  Config config = MakeConfig();
  config.subscriber.workers = 8;
  OrderLog log;
  std::atomic<int> running{0};
  std::atomic<int> max_running{0};
  auto consumer = NewBus(config);
  const std::string topic = Topic("orders");
  ASSERT_TRUE(consumer
                  ->SubscribeEnvelope(topic,
                                      [&](const Envelope& e, const Delivery&) {
                                        const int now = ++running;
                                        int prev = max_running.load();
                                        while (now > prev &&
                                               !max_running.compare_exchange_weak(prev, now)) {
                                        }
                                        // A little random work so lanes overlap and interleave.
                                        thread_local std::mt19937 rng{std::random_device{}()};
                                        const auto spin = std::chrono::microseconds(rng() % 200);
                                        const auto until = std::chrono::steady_clock::now() + spin;
                                        while (std::chrono::steady_clock::now() < until) {
                                        }
                                        log.Add(e.aggregate_id, e.event_version);
                                        --running;
                                        return Status();
                                      })
                  .ok());
  ASSERT_OK(consumer->Start());
  auto producer = NewBus(config);
  PublishOrdered(*producer, topic, 200, 20);
  ASSERT_TRUE(log.WaitForUnique(4000)) << "handled " << log.unique() << " of 4000";
  EXPECT_EQ(log.violations(), 0u);
  EXPECT_EQ(log.duplicates(), 0u);
  EXPECT_GT(max_running.load(), 1) << "keys never ran in parallel";
}

// A handler's first calls wait (bounded) until `n` of them are inside at
// once: proof that they run concurrently, without timing assumptions. Once
// met, or once a wait gave up, nobody waits again.
class Rendezvous {
 public:
  explicit Rendezvous(int n) : n_(n) {}
  void Enter() {
    bool wait = false;
    signal_.Update([&] {
      max_inside_ = std::max(max_inside_, ++inside_);
      wait = max_inside_ < n_ && !gave_up_;
    });
    if (wait && !signal_.WaitUntil([&] { return max_inside_ >= n_ || gave_up_; }, 10s)) {
      signal_.Update([&] { gave_up_ = true; });
    }
  }
  void Leave() {
    signal_.Update([&] { --inside_; });
  }
  bool met() {
    std::lock_guard<std::mutex> lock(signal_.mutex());
    return max_inside_ >= n_;
  }

 private:
  const int n_;
  Signal signal_;
  int inside_ = 0;
  int max_inside_ = 0;
  bool gave_up_ = false;
};

// Ordering::kPerPartition: a partition's records run one at a time in offset
// order, whatever their keys; different partitions run in parallel.
TEST_P(ConformanceTest, PerPartitionOrderingRunsEachPartitionInOffsetOrder) {
  Config config = MakeConfig();
  const std::string topic = Topic("perpartition");
  Signal signal;
  std::map<int32_t, std::vector<int64_t>> offsets;  // per partition, in handling order
  std::map<int32_t, int> running;
  int overlaps = 0, handled = 0;
  Rendezvous first_of_each(2);  // the first records of two partitions meet
  auto consumer = NewBus(config);
  SubscribeOptions options;
  options.ordering = Ordering::kPerPartition;
  ASSERT_OK(consumer->Subscribe(
      topic,
      [&](const Record& r, const Delivery&) {
        signal.Update([&] { overlaps += running[r.partition]++ > 0; });
        if (r.offset == 0) first_of_each.Enter();
        // A little work, so that records of one partition would overlap if
        // they ran in parallel (as different keys do under per_key).
        const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(50);
        while (std::chrono::steady_clock::now() < until) {
        }
        if (r.offset == 0) first_of_each.Leave();
        signal.Update([&] {
          --running[r.partition];
          offsets[r.partition].push_back(r.offset);
          ++handled;
        });
        return Status();
      },
      options));
  ASSERT_OK(consumer->Start());
  auto producer = NewBus(config);
  constexpr int kTotal = 800;
  for (int i = 0; i < kTotal; ++i) {
    Record r;
    r.topic = topic;
    r.key = "k" + std::to_string(i % 200);  // many keys per partition
    r.payload = std::to_string(i);
    ASSERT_TRUE(producer->Publish(std::move(r)).ok());
  }
  ASSERT_TRUE(signal.WaitUntil([&] { return handled == kTotal; })) << "handled " << handled;
  std::lock_guard<std::mutex> lock(signal.mutex());
  EXPECT_EQ(overlaps, 0) << "two records of one partition ran at once";
  EXPECT_EQ(static_cast<int>(offsets.size()), partitions());
  for (const auto& [p, seen] : offsets) {
    std::vector<int64_t> in_order(seen.size());
    for (size_t i = 0; i < in_order.size(); ++i) in_order[i] = static_cast<int64_t>(i);
    EXPECT_EQ(seen, in_order) << "partition " << p << " not handled in offset order";
  }
  EXPECT_TRUE(first_of_each.met()) << "different partitions never ran in parallel";
}

// Ordering::kNone: everything is handled, once, and even one key's records
// may run at the same time.
TEST_P(ConformanceTest, NoneOrderingHandlesEverythingEvenOneKeyConcurrently) {
  Config config = MakeConfig();
  const std::string topic = Topic("unordered");
  Signal signal;
  std::map<int64_t, int> times_handled;  // by offset (one key: one partition)
  int handled = 0;
  Rendezvous together(2);
  auto consumer = NewBus(config);
  SubscribeOptions options;
  options.ordering = Ordering::kNone;
  ASSERT_OK(consumer->Subscribe(
      topic,
      [&](const Record& r, const Delivery&) {
        together.Enter();
        together.Leave();
        signal.Update([&] {
          ++times_handled[r.offset];
          ++handled;
        });
        return Status();
      },
      options));
  ASSERT_OK(consumer->Start());
  auto producer = NewBus(config);
  constexpr int kTotal = 200;
  for (int i = 0; i < kTotal; ++i) {
    Record r;
    r.topic = topic;
    r.key = "one-key";  // under per_key these would run one at a time
    r.payload = std::to_string(i);
    ASSERT_TRUE(producer->Publish(std::move(r)).ok());
  }
  ASSERT_TRUE(signal.WaitUntil([&] { return handled == kTotal; })) << "handled " << handled;
  std::lock_guard<std::mutex> lock(signal.mutex());
  EXPECT_EQ(static_cast<int>(times_handled.size()), kTotal);
  for (const auto& [offset, n] : times_handled) EXPECT_EQ(n, 1) << "offset " << offset;
  EXPECT_TRUE(together.met()) << "records never ran concurrently under Ordering::kNone";
}

TEST_P(ConformanceTest, NothingIsLostAcrossAConsumerRestart) {
  Config config = MakeConfig();
  config.subscriber.window = 64;
  const std::string topic = Topic("restart");
  OrderLog log;
  auto handler = [&](const Envelope& e, const Delivery&) {
    log.Add(e.aggregate_id, e.event_version);
    return Status();
  };
  auto producer = NewBus(config);
  constexpr int kKeys = 50, kVersions = 40, kTotal = kKeys * kVersions;
  {
    auto first = NewBus(config);
    ASSERT_TRUE(first->SubscribeEnvelope(topic, handler).ok());
    ASSERT_OK(first->Start());
    PublishOrdered(*producer, topic, kKeys, kVersions / 2);
    ASSERT_TRUE(log.WaitForUnique(kTotal / 4));
    // Close mid-stream: whatever was not handled stays uncommitted.
    ASSERT_TRUE(first->Close().ok());
  }
  PublishOrdered(*producer, topic, kKeys, kVersions / 2, kVersions / 2 + 1);
  auto second = NewBus(config);
  ASSERT_TRUE(second->SubscribeEnvelope(topic, handler).ok());
  ASSERT_OK(second->Start());
  ASSERT_TRUE(log.WaitForUnique(kTotal)) << "handled " << log.unique() << " of " << kTotal;
  EXPECT_EQ(log.violations(), 0u);
  // Redelivered after the restart: at most what was in flight (window per partition).
  EXPECT_LE(log.duplicates(),
            static_cast<size_t>(config.subscriber.window) * static_cast<size_t>(partitions()));
}

TEST_P(ConformanceTest, FailingMessageIsRetriedThenDeadLetteredWithHeaders) {
  Config config = MakeConfig();
  const std::string topic = Topic("retry");
  Signal signal;
  std::map<int64_t, int> attempts_by_version;
  std::vector<int64_t> handled_bad;
  int handled_good = 0;
  std::vector<Record> dead;
  auto consumer = NewBus(config);
  ASSERT_TRUE(consumer
                  ->SubscribeEnvelope(topic,
                                      [&](const Envelope& e, const Delivery& d) {
                                        Status result;
                                        signal.Update([&] {
                                          if (e.aggregate_id == "bad") {
                                            attempts_by_version[e.event_version] = d.attempt;
                                            if (e.event_version == 1) {
                                              result = Status(ErrorCode::kHandlerFailed, "boom");
                                            } else {
                                              handled_bad.push_back(e.event_version);
                                            }
                                          } else {
                                            ++handled_good;
                                          }
                                        });
                                        return result;
                                      })
                  .ok());
  auto dlq_reader = NewBus(config);
  ASSERT_OK(CollectInto(*dlq_reader, topic + ".dlq", signal, dead));
  ASSERT_OK(consumer->Start());
  ASSERT_OK(dlq_reader->Start());
  auto producer = NewBus(config);
  for (int v = 1; v <= 3; ++v) {
    ASSERT_TRUE(producer->PublishEnvelope(topic, NewEnvelope("bad", "T", v, "{}")).ok());
  }
  for (int k = 0; k < 20; ++k) {
    ASSERT_TRUE(
        producer->PublishEnvelope(topic, NewEnvelope("good-" + std::to_string(k), "T", 1, "{}"))
            .ok());
  }
  ASSERT_TRUE(signal.WaitUntil(
      [&] { return dead.size() == 1 && handled_bad.size() == 2 && handled_good == 20; }));
  std::lock_guard<std::mutex> lock(signal.mutex());
  EXPECT_EQ(attempts_by_version[1], config.subscriber.retry.max_attempts);
  // Later messages of the failing key waited for it, then ran in order.
  EXPECT_EQ(handled_bad, (std::vector<int64_t>{2, 3}));
  const Record& r = dead[0];
  EXPECT_EQ(r.key, "bad");
  EXPECT_EQ(FindHeader(r.headers, "X-Original-Topic").value_or(""), topic);
  EXPECT_TRUE(FindHeader(r.headers, "X-Original-Partition").has_value());
  EXPECT_TRUE(FindHeader(r.headers, "X-Original-Offset").has_value());
  EXPECT_EQ(FindHeader(r.headers, "X-Attempts").value_or(""),
            std::to_string(config.subscriber.retry.max_attempts));
  EXPECT_NE(FindHeader(r.headers, "X-Error").value_or("").find("boom"), std::string::npos);
  EXPECT_TRUE(ParseRfc3339(FindHeader(r.headers, "X-Failed-At").value_or("")).ok());
  Result<Envelope> original = DecodeEnvelope(r.payload);
  ASSERT_TRUE(original.ok());
  EXPECT_EQ(original->event_version, 1);
}

// One key in a long retry backoff holds back only its own later records:
// with a single worker, every other key is handled meanwhile (no worker
// sleeps through a backoff), and the waiting record is not committed.
TEST_P(ConformanceTest, OtherKeysKeepFlowingWhileOneKeyIsInRetryBackoff) {
  Config config = MakeConfig();
  config.subscriber.workers = 1;
  config.subscriber.lanes = 1;  // one slot up front: every other key still gets a lane of its own
  const std::string topic = Topic("backoff");
  Signal signal;
  int stuck_attempts = 0, others = 0;
  bool follower_handled = false;
  int32_t stuck_partition = -1;
  int64_t stuck_offset = -1;
  SubscribeOptions options;
  RetryPolicy slow;
  slow.initial_backoff = std::chrono::minutes(10);
  slow.max_backoff = std::chrono::minutes(10);
  slow.jitter = 0;
  options.retry = slow;
  auto consumer = NewBus(config);
  ASSERT_OK(consumer->SubscribeEnvelope(
      topic,
      [&](const Envelope& e, const Delivery& d) {
        Status result;
        signal.Update([&] {
          if (e.aggregate_id != "stuck") {
            ++others;
          } else if (e.event_version == 1) {
            ++stuck_attempts;
            stuck_partition = d.record.partition;
            stuck_offset = d.record.offset;
            result = Status(ErrorCode::kHandlerFailed, "not yet");
          } else {
            follower_handled = true;
          }
        });
        return result;
      },
      options));
  ASSERT_OK(consumer->Start());
  auto producer = NewBus(config);
  ASSERT_TRUE(producer->PublishEnvelope(topic, NewEnvelope("stuck", "T", 1, "{}")).ok());
  ASSERT_TRUE(producer->PublishEnvelope(topic, NewEnvelope("stuck", "T", 2, "{}")).ok());
  constexpr int kOthers = 50;
  for (int k = 0; k < kOthers; ++k) {
    ASSERT_TRUE(
        producer->PublishEnvelope(topic, NewEnvelope("other-" + std::to_string(k), "T", 1, "{}"))
            .ok());
  }
  ASSERT_TRUE(signal.WaitUntil([&] { return others == kOthers && stuck_attempts >= 1; }))
      << "other keys handled: " << others << " of " << kOthers;
  {
    std::lock_guard<std::mutex> lock(signal.mutex());
    EXPECT_EQ(stuck_attempts, 1) << "retried before its backoff ended";
    EXPECT_FALSE(follower_handled) << "a later record of the key in backoff ran before it";
  }
  EXPECT_EQ(consumer->stats().retried, 1u);
  Result<CloseReport> report = consumer->Close();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->abandoned, 2u) << report->ToString();  // the stuck record and its follower
  std::lock_guard<std::mutex> lock(signal.mutex());
  EXPECT_LE(CommittedOffset(config, topic, stuck_partition), stuck_offset)
      << "committed past a record still waiting for its retry";
}

TEST_P(ConformanceTest, PoisonIsDeadLetteredAtOnceAndThePartitionContinues) {
  Config config = MakeConfig();
  const std::string topic = Topic("poison");
  Signal signal;
  std::vector<int64_t> handled;
  std::vector<Record> dead;
  auto consumer = NewBus(config);
  ASSERT_TRUE(consumer
                  ->SubscribeEnvelope(topic,
                                      [&](const Envelope& e, const Delivery&) {
                                        signal.Update([&] { handled.push_back(e.event_version); });
                                        return Status();
                                      })
                  .ok());
  auto dlq_reader = NewBus(config);
  ASSERT_OK(CollectInto(*dlq_reader, topic + ".dlq", signal, dead));
  ASSERT_OK(consumer->Start());
  ASSERT_OK(dlq_reader->Start());
  auto producer = NewBus(config);
  ASSERT_TRUE(producer->PublishEnvelope(topic, NewEnvelope("acct-1", "T", 1, "{}")).ok());
  Record poison;
  poison.topic = topic;
  poison.key = "acct-1";  // same key, so same partition and lane
  poison.payload = R"({"event_id":"x","aggregate_id":"acct-1","event_version":"two"})";
  ASSERT_TRUE(producer->Publish(poison).ok());
  ASSERT_TRUE(producer->PublishEnvelope(topic, NewEnvelope("acct-1", "T", 2, "{}")).ok());
  ASSERT_TRUE(signal.WaitUntil([&] { return handled.size() == 2 && dead.size() == 1; }));
  std::lock_guard<std::mutex> lock(signal.mutex());
  EXPECT_EQ(handled, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(dead[0].payload, poison.payload);
  EXPECT_EQ(FindHeader(dead[0].headers, "X-Attempts").value_or(""), "0");
  EXPECT_NE(FindHeader(dead[0].headers, "X-Error").value_or("").find("Poison"), std::string::npos);
  EXPECT_EQ(consumer->stats().poison, 1u);
}

TEST_P(ConformanceTest, SlowHandlerKeepsMemoryBoundedByTheWindow) {
  Config config = MakeConfig();
  config.subscriber.window = 32;
  config.subscriber.max_poll_records = 16;
  const std::string topic = Topic("slow");
  Gate gate;
  std::atomic<int> handled{0};
  auto consumer = NewBus(config);
  ASSERT_TRUE(consumer
                  ->Subscribe(topic,
                              [&](const Record&, const Delivery& d) {
                                if (!gate.Pass(d.cancel))
                                  return Status(ErrorCode::kCancelled, "closing");
                                ++handled;
                                return Status();
                              })
                  .ok());
  ASSERT_OK(consumer->Start());
  auto producer = NewBus(config);
  constexpr int kTotal = 3000;
  for (int i = 0; i < kTotal; ++i) {
    Record r;
    r.topic = topic;
    r.key = "k" + std::to_string(i % 300);
    r.payload = std::string(100, 'x');
    ASSERT_TRUE(producer->Publish(std::move(r)).ok());
  }
  // Handlers are blocked: the consumer must stop fetching at the window.
  ASSERT_TRUE(Eventually([&] {
    return consumer->stats().pauses >= static_cast<uint64_t>(partitions());
  })) << "never paused; in flight "
      << consumer->stats().in_flight;
  const int64_t bound =
      (config.subscriber.window + config.subscriber.max_poll_records) * partitions();
  EXPECT_LE(consumer->stats().in_flight, bound);
  EXPECT_LT(consumer->stats().in_flight, kTotal) << "read everything despite backpressure";
  gate.Open();
  ASSERT_TRUE(Eventually([&] { return handled.load() == kTotal; }, 30s))
      << "handled " << handled.load();
  EXPECT_LE(consumer->stats().in_flight, bound);
}

// The bus-wide byte budget: with every handler blocked, the consumer stops
// fetching (pauses every partition) once the bytes in flight reach
// subscriber.memory_budget, long before the window would; nothing is read
// and dropped, and the accounting returns to zero once all is handled.
TEST_P(ConformanceTest, ByteBudgetPausesFetchingWhileHandlersAreBlocked) {
  Config config = MakeConfig();
  config.subscriber.memory_budget = 64 * 1024;  // the smallest allowed
  config.subscriber.max_poll_records = 8;
  const std::string topic = Topic("budget");
  constexpr int kTotal = 300;
  constexpr int64_t kPayload = 4096;  // kTotal records: about 19 budgets
  Gate gate;
  std::atomic<int> handled{0};
  auto consumer = NewBus(config);
  ASSERT_OK(consumer->Subscribe(topic, [&](const Record&, const Delivery& d) {
    if (!gate.Pass(d.cancel)) return Status(ErrorCode::kCancelled, "closing");
    ++handled;
    return Status();
  }));
  ASSERT_OK(consumer->Start());
  auto producer = NewBus(config);
  for (int i = 0; i < kTotal; ++i) {
    Record r;
    r.topic = topic;
    r.key = "k" + std::to_string(i);
    r.payload = std::string(kPayload, 'x');
    ASSERT_TRUE(producer->Publish(std::move(r)).ok());
  }
  ASSERT_TRUE(Eventually([&] {
    return consumer->stats().pauses >= static_cast<uint64_t>(partitions());
  })) << "never paused; bytes in flight "
      << consumer->stats().in_flight_bytes;
  // One poll may overshoot the budget before the next check: at most
  // max_poll_records records (payload, key and bookkeeping).
  const int64_t bound =
      config.subscriber.memory_budget + config.subscriber.max_poll_records * (kPayload + 1024);
  const BusStats paused = consumer->stats();
  EXPECT_LE(paused.in_flight_bytes, bound);
  EXPECT_GE(paused.in_flight_bytes, config.subscriber.memory_budget) << "paused below the budget";
  EXPECT_LT(paused.in_flight, config.subscriber.window) << "the window paused, not the budget";
  gate.Open();
  ASSERT_TRUE(Eventually([&] { return handled.load() == kTotal; }, 30s))
      << "handled " << handled.load();
  EXPECT_TRUE(Eventually([&] {
    const BusStats s = consumer->stats();
    return s.in_flight == 0 && s.in_flight_bytes == 0;
  })) << "in flight after all was handled: "
      << consumer->stats().in_flight_bytes << " bytes";
}

// Two members of a group: once the second joins, the partitions are split
// between them (each handles only its own, and both handle some); when the
// first leaves, the second takes over every partition. Across both handovers
// nothing is lost, per-key order holds, and nothing is handled twice (a
// revoke finishes and commits in-flight work before it lets go).
TEST_P(ConformanceTest, RebalanceBetweenTwoConsumersLosesNothingAndKeepsOrder) {
  Config config = MakeConfig();
  config.subscriber.backlog_interval = 5ms;  // backlog() shows each member's partitions soon
  const std::string topic = Topic("rebalance");
  OrderLog log;
  Signal who;
  // Per member: phase (1: a alone, 2: a and b, 3: b alone) -> partitions handled.
  std::map<int, std::set<int32_t>> a_handled, b_handled;
  auto handler_of = [&](std::map<int, std::set<int32_t>>& handled) {
    return [&log, &who, handled = &handled](const Envelope& e, const Delivery& d) {
      const int phase = static_cast<int>((e.event_version - 1) / 10) + 1;
      who.Update([&] { (*handled)[phase].insert(d.record.partition); });
      log.Add(e.aggregate_id, e.event_version);
      return Status();
    };
  };
  auto owned = [&](EventBus& bus) {
    std::set<int32_t> parts;
    for (const PartitionBacklog& p : bus.backlog().partitions) {
      if (p.topic == topic) parts.insert(p.partition);
    }
    return parts;
  };
  auto producer = NewBus(config);
  auto a = NewBus(config);
  ASSERT_TRUE(a->SubscribeEnvelope(topic, handler_of(a_handled)).ok());
  ASSERT_OK(a->Start());
  PublishOrdered(*producer, topic, 40, 10);
  ASSERT_TRUE(log.WaitForUnique(100));
  auto b = NewBus(config);  // joins the same group: partitions are split
  ASSERT_TRUE(b->SubscribeEnvelope(topic, handler_of(b_handled)).ok());
  ASSERT_OK(b->Start());
  std::set<int32_t> a_owns, b_owns;
  ASSERT_TRUE(Eventually(
      [&] {
        a_owns = owned(*a);
        b_owns = owned(*b);
        std::set<int32_t> all = a_owns;
        all.insert(b_owns.begin(), b_owns.end());
        return !a_owns.empty() && !b_owns.empty() && all.size() == a_owns.size() + b_owns.size() &&
               static_cast<int>(all.size()) == partitions();
      },
      30s))
      << "the group never split the partitions between its two members: a owns " << a_owns.size()
      << ", b owns " << b_owns.size();
  PublishOrdered(*producer, topic, 40, 10, 11);
  ASSERT_TRUE(log.WaitForUnique(800));
  {
    std::lock_guard<std::mutex> lock(who.mutex());
    EXPECT_FALSE(a_handled[2].empty()) << "a handled nothing once b had joined";
    EXPECT_FALSE(b_handled[2].empty()) << "b handled nothing while both were members";
    for (int32_t p : a_handled[2]) EXPECT_TRUE(a_owns.count(p)) << "a handled b's partition " << p;
    for (int32_t p : b_handled[2]) EXPECT_TRUE(b_owns.count(p)) << "b handled a's partition " << p;
  }
  ASSERT_TRUE(a->Close().ok());  // b takes over every partition
  PublishOrdered(*producer, topic, 40, 10, 21);
  ASSERT_TRUE(log.WaitForUnique(1200)) << "handled " << log.unique() << " of 1200";
  EXPECT_EQ(log.violations(), 0u);
  EXPECT_EQ(log.duplicates(), 0u) << "records handled again after a clean handover";
  std::lock_guard<std::mutex> lock(who.mutex());
  EXPECT_EQ(static_cast<int>(b_handled[3].size()), partitions())
      << "after a left, b did not handle every partition";
}

// Close with a handler stuck: what was handled is committed by the close
// itself (periodic commits are off), exactly up to the first record that was
// not handled in each partition; nothing unhandled is committed. A second
// member of the group then gets exactly the rest: no committed record again,
// no record lost.
TEST_P(ConformanceTest, CloseWithWorkInFlightCommitsOnlyWhatWasHandled) {
  Config config = MakeConfig();
  config.subscriber.workers = 2;
  config.subscriber.commit_interval = std::chrono::seconds(30);  // only the close commits
  // The poll timeout is the commit interval, and librdkafka's batch consume
  // waits that long for a full batch: a batch of one returns at once.
  config.subscriber.max_poll_records = 1;
  const std::string topic = Topic("inflight");
  using Offset = std::pair<int32_t, int64_t>;  // partition, offset
  Gate gate;
  Signal signal;
  std::set<Offset> published, handled, redelivered;
  int blocked = 0, handled_twice = 0;
  auto producer = NewBus(MakeConfig());  // first: it holds the memory broker to the end
  auto consumer = NewBus(config);
  ASSERT_TRUE(consumer
                  ->Subscribe(topic,
                              [&](const Record& r, const Delivery& d) {
                                if (r.payload == "block") {
                                  signal.Update([&] { ++blocked; });
                                  if (!gate.Pass(d.cancel)) {
                                    return Status(ErrorCode::kCancelled, "closing");
                                  }
                                }
                                signal.Update([&] { handled.insert({r.partition, r.offset}); });
                                return Status();
                              })
                  .ok());
  ASSERT_OK(consumer->Start());
  auto publish = [&](int from, int to) {
    for (int i = from; i < to; ++i) {
      Record r;
      r.topic = topic;
      r.key = "k" + std::to_string(i % 20);
      r.payload = (i % 20 == 0 && i >= 100) ? "block" : "ok";
      ASSERT_TRUE(producer
                      ->Publish(std::move(r),
                                [&](const PublishResult& p) {
                                  EXPECT_TRUE(p.status.ok()) << p.status.ToString();
                                  signal.Update([&] { published.insert({p.partition, p.offset}); });
                                })
                      .ok());
    }
  };
  // First 100 records that all get handled, then 100 more among which k0's
  // block: a worker stuck in one may hold other lanes it took in the same
  // turn, so only the first 100 are waited for.
  publish(0, 100);
  ASSERT_TRUE(signal.WaitUntil([&] { return handled.size() == 100; }))
      << "handled " << handled.size();
  publish(100, 200);
  ASSERT_TRUE(signal.WaitUntil([&] { return published.size() == 200; }));
  // Close only once a handler is stuck, so there is work in flight to abandon.
  ASSERT_TRUE(signal.WaitUntil([&] { return blocked > 0; }));
  Result<CloseReport> report = consumer->Close(300ms);
  ASSERT_TRUE(report.ok());
  EXPECT_GT(report->abandoned, 0u) << report->ToString();
  std::map<int32_t, int64_t> committed;
  uint64_t with_handled_prefix = 0;
  {
    std::lock_guard<std::mutex> lock(signal.mutex());
    for (int32_t p = 0; p < partitions(); ++p) {
      int64_t first_unhandled = 0;
      while (handled.count({p, first_unhandled})) ++first_unhandled;
      committed[p] = CommittedOffset(config, topic, p);
      // Every handled record below the first unhandled one is committed, and
      // nothing at or past it (no holes).
      EXPECT_EQ(committed[p], first_unhandled > 0 ? first_unhandled : -1)
          << "partition " << p << ": committed " << committed[p] << ", handled up to "
          << first_unhandled;
      if (first_unhandled > 0) ++with_handled_prefix;
    }
  }
  EXPECT_GT(with_handled_prefix, 0u);
  EXPECT_EQ(report->partitions_committed, with_handled_prefix) << report->ToString();

  // The rest goes to the next member of the group, and only the rest.
  std::set<Offset> rest;
  for (const Offset& o : published) {
    if (o.second >= committed[o.first]) rest.insert(o);
  }
  auto second = NewBus(MakeConfig());
  ASSERT_OK(second->Subscribe(topic, [&](const Record& r, const Delivery&) {
    signal.Update([&] {
      if (!redelivered.insert({r.partition, r.offset}).second) ++handled_twice;
    });
    return Status();
  }));
  ASSERT_OK(second->Start());
  ASSERT_TRUE(signal.WaitUntil([&] { return redelivered.size() >= rest.size(); }))
      << "the second member got " << redelivered.size() << " of " << rest.size();
  ASSERT_TRUE(second->Close().ok());
  std::lock_guard<std::mutex> lock(signal.mutex());
  EXPECT_EQ(redelivered, rest) << "the second member must get exactly what was not committed";
  EXPECT_EQ(handled_twice, 0);
}

TEST_P(ConformanceTest, CloseIsIdempotentAndConcurrent) {
  Config config = MakeConfig();
  auto bus = NewBus(config);
  ASSERT_TRUE(
      bus->Subscribe(Topic("idem"), [](const Record&, const Delivery&) { return Status(); }).ok());
  ASSERT_OK(bus->Start());
  Result<CloseReport> r1 = Status(ErrorCode::kInternal, "unset");
  Result<CloseReport> r2 = Status(ErrorCode::kInternal, "unset");
  std::thread t1([&] { r1 = bus->Close(); });
  std::thread t2([&] { r2 = bus->Close(); });
  t1.join();
  t2.join();
  Result<CloseReport> r3 = bus->Close();
  ASSERT_TRUE(r1.ok() && r2.ok() && r3.ok());
  EXPECT_EQ(r1->duration, r2->duration);
  EXPECT_EQ(r1->duration, r3->duration);
  EXPECT_EQ(r1->bus_threads_after_close, 0u);
  EXPECT_EQ(bus->state(), BusState::kClosed);
  EXPECT_EQ(bus->PublishEnvelope("x", NewEnvelope("a", "T", 1, "{}")).code(), ErrorCode::kClosed);
}

// Publishers still running while another thread closes the bus: every
// publish is either refused or completes exactly once, by the time Close()
// returns, and nothing touches the transport after it is gone.
TEST_P(ConformanceTest, PublishesRacingCloseEachCompleteExactlyOnce) {
  Config config = MakeConfig();
  auto bus = NewBus(config);
  ASSERT_OK(bus->Start());
  constexpr int kPublishers = 3;
  constexpr int kEach = 3000;  // bounded: Close comes long before the end on any transport
  std::atomic<int64_t> accepted{0}, completed{0}, twice{0};
  Signal signal;
  std::vector<std::thread> publishers;
  for (int p = 0; p < kPublishers; ++p) {
    publishers.emplace_back([&, p] {
      for (int i = 0; i < kEach; ++i) {
        auto seen = std::make_shared<std::atomic<bool>>(false);
        Record r;
        r.topic = Topic("race");
        r.key = "k" + std::to_string(p);
        r.payload = std::to_string(i);
        const Status s = bus->Publish(std::move(r), [&, seen](const PublishResult&) {
          if (seen->exchange(true)) twice.fetch_add(1);
          completed.fetch_add(1);
        });
        if (!s.ok()) return;  // refused: the bus is closing
        if (accepted.fetch_add(1) + 1 == 100) signal.Update([] {});
      }
    });
  }
  ASSERT_TRUE(signal.WaitUntil([&] { return accepted.load() >= 100; }, 20s));
  Result<CloseReport> closed = bus->Close();
  const int64_t completed_at_close = completed.load();
  for (std::thread& t : publishers) t.join();
  ASSERT_TRUE(closed.ok()) << closed.status().ToString();
  EXPECT_EQ(completed_at_close, accepted.load()) << "every accepted publish completed by Close()";
  EXPECT_EQ(twice.load(), 0);
  EXPECT_EQ(closed->bus_threads_after_close, 0u);
}

TEST_P(ConformanceTest, CloseFromAHandlerReturnsAnErrorInsteadOfDeadlocking) {
  Config config = MakeConfig();
  Signal signal;
  std::optional<Status> from_handler;
  auto bus = NewBus(config);
  const std::string topic = Topic("selfclose");
  ASSERT_TRUE(bus->Subscribe(topic,
                             [&](const Record&, const Delivery&) {
                               Result<CloseReport> r = bus->Close();
                               signal.Update([&] { from_handler = r.status(); });
                               return Status();
                             })
                  .ok());
  ASSERT_OK(bus->Start());
  Record r;
  r.topic = topic;
  r.payload = "x";
  ASSERT_TRUE(bus->Publish(r).ok());
  ASSERT_TRUE(signal.WaitUntil([&] { return from_handler.has_value(); }));
  EXPECT_EQ(from_handler->code(), ErrorCode::kWouldDeadlock);
  EXPECT_TRUE(bus->Close().ok());
}

TEST_P(ConformanceTest, HandlerExceptionIsAFailureAndTheWorkerSurvives) {
  Config config = MakeConfig();
  config.subscriber.workers = 1;
  Signal signal;
  std::vector<std::string> seen;
  auto bus = NewBus(config);
  const std::string topic = Topic("throws");
  ASSERT_TRUE(bus->Subscribe(topic,
                             [&](const Record& r, const Delivery& d) -> Status {
                               if (r.payload == "throw" && d.attempt == 1)
                                 throw std::runtime_error("kaput");
                               signal.Update([&] {
                                 seen.push_back(r.payload + "#" + std::to_string(d.attempt));
                               });
                               return Status();
                             })
                  .ok());
  ASSERT_OK(bus->Start());
  for (const char* p : {"throw", "next"}) {
    Record r;
    r.topic = topic;
    r.key = "same";
    r.payload = p;
    ASSERT_TRUE(bus->Publish(r).ok());
  }
  ASSERT_TRUE(signal.WaitUntil([&] { return seen.size() == 2; }));
  std::lock_guard<std::mutex> lock(signal.mutex());
  EXPECT_EQ(seen, (std::vector<std::string>{"throw#2", "next#1"}));
  EXPECT_EQ(bus->stats().failed, 1u);
}

TEST_P(ConformanceTest, SubscribingAfterStartResubscribes) {
  Config config = MakeConfig();
  Signal signal;
  int first = 0, second = 0;
  auto bus = NewBus(config);
  const std::string t1 = Topic("first"), t2 = Topic("second");
  ASSERT_TRUE(bus->Subscribe(t1,
                             [&](const Record&, const Delivery&) {
                               signal.Update([&] { ++first; });
                               return Status();
                             })
                  .ok());
  ASSERT_OK(bus->Start());
  ASSERT_TRUE(bus->Subscribe(t2,
                             [&](const Record&, const Delivery&) {
                               signal.Update([&] { ++second; });
                               return Status();
                             })
                  .ok());
  EXPECT_EQ(bus->Subscribe(t2, [](const Record&, const Delivery&) { return Status(); }).code(),
            ErrorCode::kAlreadyExists);
  auto producer = NewBus(config);
  for (const std::string& t : {t1, t2}) {
    Record r;
    r.topic = t;
    r.payload = "x";
    ASSERT_TRUE(producer->Publish(r).ok());
  }
  ASSERT_TRUE(signal.WaitUntil([&] { return first == 1 && second == 1; }));
}

TEST_P(ConformanceTest, BusThreadsAreNamedRegisteredAndGoneAfterClose) {
  Config config = MakeConfig();
  config.subscriber.workers = 3;
  // Client libraries name their own threads (librdkafka "rdk:*", cnats);
  // every other thread of the bus is evbus's and named "evb-*".
  auto is_client_library = [](const ThreadInfo& t) {
    return t.component == "librdkafka" || t.component == "cnats";
  };
  auto engine_threads = [&](uint64_t id) {
    size_t n = 0;
    for (const ThreadInfo& t : TakeCensus().threads) {
      if (t.bus_id == id && (t.component == "worker-pool" || t.component == "consumer" ||
                             t.component == "retry-timer")) {
        ++n;
      }
    }
    return n;
  };
  auto bus = NewBus(config);
  EXPECT_EQ(engine_threads(bus->id()), 0u) << "the engine starts no thread before Start()";
  ASSERT_TRUE(
      bus->Subscribe(Topic("census"), [](const Record&, const Delivery&) { return Status(); })
          .ok());
  ASSERT_OK(bus->Start());
  // A client library's thread is attributed by its own start hook, which runs
  // a moment after the thread exists (librdkafka adds broker threads as it
  // learns of brokers); once started, every thread has an owner.
  Census census;
  EXPECT_TRUE(Eventually([&] {
    census = TakeCensus();
    return census.ByComponent().count("unknown") == 0;
  })) << "unattributed thread(s):\n"
      << census.ToTable();
  size_t workers = 0;
  for (const ThreadInfo& t : census.threads) {
    if (t.bus_id != bus->id() || is_client_library(t)) continue;
    EXPECT_EQ(t.name.rfind("evb-", 0), 0u) << t.name;
    EXPECT_LE(t.name.size(), 15u);
    if (t.component == "worker-pool") ++workers;
  }
  EXPECT_EQ(workers, 3u);
  EXPECT_EQ(engine_threads(bus->id()), 5u);  // 3 workers, poll, timer
  Result<CloseReport> report = bus->Close();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->bus_threads_after_close, 0u);
  EXPECT_EQ(TakeCensus().CountForBus(bus->id()), 0u);
}

}  // namespace
}  // namespace evbus::test
