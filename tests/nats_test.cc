// The NATS JetStream transport: the conformance suite plus what only NATS
// has (Nats-Msg-Id de-duplication, leases shared by a group, cnats threads in
// the census). Needs a server: scripts/nats up (EVBUS_NATS_URL overrides).

#include <cstdlib>
#include <map>
#include <set>

#include "conformance.h"
#include "crash_consumer.h"
#include "transport/nats/nats_transport.h"
#include "transport/transport.h"

namespace evbus::test {
namespace {

std::string NatsUrl() {
  const char* url = std::getenv("EVBUS_NATS_URL");
  return url != nullptr && *url != '\0' ? url : "nats://127.0.0.1:14222";
}

Config BaseConfig() {
  Config c;
  c.transport = TransportKind::kNats;
  c.nats.urls = {NatsUrl()};
  c.nats.storage = "memory";
  c.nats.ack_wait = 2s;
  UseFastTestSettings(c);
  return c;
}

// Test names repeat across runs and the server outlives them: streams (and
// their durable consumers) left by an earlier run of `unique` are deleted.
Config NatsConfig(const std::string& unique) {
  Config c = BaseConfig();
  if (!unique.empty()) {
    Status s = transport::nats::DeleteTopics(c, unique);
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  return c;
}

int64_t NatsCommitted(const Config& config, const std::string& topic, int32_t partition) {
  Result<int64_t> c =
      transport::nats::CommittedOffset(config, config.subscriber.group, topic, partition);
  return c.ok() ? *c : -1;
}

// In CI the server must be there: an empty reason makes a missing server fail.
std::string NatsUnavailable() {
  const char* ci = std::getenv("CI");
  if (ci != nullptr && std::string(ci) == "true") return "";
  Config c = BaseConfig();
  c.nats.connect_timeout = 500ms;
  std::string why = transport::nats::ProbeServer(c.nats);
  return why.empty() ? "" : why + " (scripts/nats up)";
}

const bool kNatsRegistered = RegisterConformanceTransport(
    TransportUnderTest{"nats", 4, NatsConfig, NatsCommitted, NatsUnavailable});

class NatsTest : public ServerTest {
 protected:
  NatsTest() : ServerTest("nats", NatsUnavailable, NatsConfig) {}

  // A key per partition, so a test can reach every partition.
  static std::vector<std::string> KeyPerPartition() {
    std::vector<std::string> keys(4);
    for (int i = 0, found = 0; found < static_cast<int>(keys.size()); ++i) {
      const std::string key = "key-" + std::to_string(i);
      auto p = static_cast<size_t>(transport::PartitionForKey(key, static_cast<int>(keys.size())));
      if (keys[p].empty()) {
        keys[p] = key;
        ++found;
      }
    }
    return keys;
  }
};

TEST_F(NatsTest, RepublishedEventIdIsStoredOnce) {
  const std::string topic = unique_ + "-dedup";
  Signal signal;
  std::map<std::string, int> seen;  // event id -> times handled
  std::vector<int64_t> offsets;
  auto consumer = NewBus(config_);
  ASSERT_TRUE(consumer
                  ->SubscribeEnvelope(topic,
                                      [&](const Envelope& e, const Delivery&) {
                                        signal.Update([&] { ++seen[e.event_id]; });
                                        return Status();
                                      })
                  .ok());
  ASSERT_TRUE(consumer->Start().ok());
  auto producer = NewBus(config_);
  const Envelope first = NewEnvelope("acct-9", "Opened", 1, "{}");
  const Envelope marker = NewEnvelope("acct-9", "Closed", 2, "{}");
  auto record_offset = [&](const PublishResult& r) {
    signal.Update([&] {
      EXPECT_TRUE(r.status.ok()) << r.status.ToString();
      offsets.push_back(r.offset);
    });
  };
  ASSERT_TRUE(producer->PublishEnvelope(topic, first, record_offset).ok());
  ASSERT_TRUE(producer->PublishEnvelope(topic, first, record_offset).ok());  // e.g. an outbox retry
  ASSERT_TRUE(producer->PublishEnvelope(topic, marker, record_offset).ok());
  // Same key, same partition: once the marker is handled, the duplicate would have been.
  ASSERT_TRUE(signal.WaitUntil([&] { return seen.count(marker.event_id) != 0; }));
  std::lock_guard<std::mutex> lock(signal.mutex());
  EXPECT_EQ(seen[first.event_id], 1);
  ASSERT_EQ(offsets.size(), 3u);
  EXPECT_EQ(offsets[0], offsets[1]) << "the duplicate's ack names the original's sequence";
}

TEST_F(NatsTest, TwoBusesSharePartitionsAndOneTakesOverOnClose) {
  const std::string topic = unique_ + "-share";
  const std::vector<std::string> keys = KeyPerPartition();
  Signal signal;
  std::map<int, std::set<int32_t>> partitions_by_bus;  // 0 = a, 1 = b
  std::map<int, int> handled_by_bus;
  auto handler_for = [&](int bus) {
    return [&, bus](const Record& r, const Delivery&) {
      signal.Update([&] {
        partitions_by_bus[bus].insert(r.partition);
        ++handled_by_bus[bus];
      });
      return Status();
    };
  };
  auto producer = NewBus(config_);
  auto publish_round = [&] {
    for (const std::string& key : keys) {
      Record r;
      r.topic = topic;
      r.key = key;
      r.payload = "x";
      ASSERT_TRUE(producer->Publish(r).ok());
    }
  };
  auto a = NewBus(config_);
  ASSERT_TRUE(a->Subscribe(topic, handler_for(0)).ok());
  ASSERT_TRUE(a->Start().ok());
  publish_round();
  ASSERT_TRUE(signal.WaitUntil([&] { return partitions_by_bus[0].size() == keys.size(); }))
      << "a single member consumes every partition";
  {
    auto b = NewBus(config_);
    ASSERT_TRUE(b->Subscribe(topic, handler_for(1)).ok());
    ASSERT_TRUE(b->Start().ok());
    // b gets partitions once a gives up its surplus (a lease step, about a second).
    int rounds = 0;
    ASSERT_TRUE(Eventually([&] {
      if (++rounds % 50 == 0) publish_round();
      std::lock_guard<std::mutex> lock(signal.mutex());
      return handled_by_bus[1] > 0;
    }));
    signal.Update([&] { partitions_by_bus.clear(); });
    publish_round();
    ASSERT_TRUE(signal.WaitUntil(
        [&] { return partitions_by_bus[0].size() + partitions_by_bus[1].size() == keys.size(); }));
    {
      std::lock_guard<std::mutex> lock(signal.mutex());
      for (int32_t p : partitions_by_bus[0]) {
        EXPECT_EQ(partitions_by_bus[1].count(p), 0u) << "partition " << p << " has two owners";
      }
      EXPECT_FALSE(partitions_by_bus[1].empty());
      EXPECT_FALSE(partitions_by_bus[0].empty());
    }
    ASSERT_TRUE(b->Close().ok());  // releases its leases at once
  }
  signal.Update([&] { partitions_by_bus.clear(); });
  publish_round();
  ASSERT_TRUE(signal.WaitUntil([&] { return partitions_by_bus[0].size() == keys.size(); }))
      << "a took over every partition";
}

TEST_F(NatsTest, CnatsThreadsAreAttributedAndGoneAfterClose) {
  const std::string topic = unique_ + "-census";
  Signal signal;
  int handled = 0;
  auto bus = NewBus(config_);
  EXPECT_EQ(CountProcessThreads(), baseline_threads_) << "connecting waits for first use";
  ASSERT_TRUE(bus->Subscribe(topic,
                             [&](const Record&, const Delivery&) {
                               signal.Update([&] { ++handled; });
                               return Status();
                             })
                  .ok());
  ASSERT_TRUE(bus->Start().ok());
  Record r;
  r.topic = topic;
  r.payload = "x";
  ASSERT_TRUE(bus->Publish(r).ok());
  ASSERT_TRUE(signal.WaitUntil([&] { return handled == 1; }));
  Census census = TakeCensus();
  size_t cnats = 0, cnats_of_bus = 0;
  for (const ThreadInfo& t : census.threads) {
    EXPECT_NE(t.component, "unknown") << "tid " << t.tid << " " << t.name << "\n"
                                      << census.ToTable();
    if (t.component != "cnats") continue;
    ++cnats;
    EXPECT_EQ(t.name, "evb-cnats");
    if (t.bus_id == bus->id()) ++cnats_of_bus;
  }
  EXPECT_GT(cnats, cnats_of_bus) << "the library's own threads belong to no bus";
  EXPECT_GE(cnats_of_bus, 2u) << "the connection's reader and flusher\n" << census.ToTable();
  Result<CloseReport> report = bus->Close();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->bus_threads_after_close, 0u);
  // T1 right after Close, before the bus (and its transport) is destroyed.
  EXPECT_EQ(CountProcessThreads(), baseline_threads_) << TakeCensus().ToTable();
  EXPECT_EQ(TakeCensus().ByComponent().count("cnats"), 0u);
}

// The victim holds leases and unacked deliveries when it dies: the survivor
// claims the partitions once the leases expire and must get the messages
// again in log order, not after the ones that follow them.
TEST_F(NatsTest, ConsumerKilledMidStreamLosesNothing) {
  CrashScenario sc;
  sc.config = config_;
  // A small window: the victim holds few unacked messages, so newer ones
  // wait on the server, ready to overtake the held ones after the kill.
  sc.config.subscriber.window = 32;
  // Longer than the lease TTL, as in production: the survivor owns the
  // partitions before the server would redeliver the victim's messages.
  sc.config.nats.ack_wait = 10s;
  sc.topic = unique_ + "-sigkill";
  sc.log_path = "/tmp/" + unique_ + ".log";
  RunConsumerKilledMidStream(sc);
}

TEST_F(NatsTest, ValidateOnlyNamesTheMissingStream) {
  Config config = config_;
  config.topic_strategy = TopicStrategy::kValidateOnly;
  auto bus = NewBus(config);
  ASSERT_TRUE(
      bus->Subscribe(unique_ + "-absent", [](const Record&, const Delivery&) { return Status(); })
          .ok());
  Status s = bus->Start();
  EXPECT_EQ(s.code(), ErrorCode::kNotFound) << s.ToString();
  EXPECT_NE(s.message().find("validate_only"), std::string::npos) << s.ToString();
}

}  // namespace
}  // namespace evbus::test
