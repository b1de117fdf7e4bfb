// evbus and a Go jxt-core peer (tests/interop/jxtpeer: sarama and nats.go,
// each envelope generation) sharing topics on the real Kafka and NATS
// servers, both ways. Every message is counted; fields and payload bytes are
// checked exactly, and per-aggregate order and (Kafka) partition placement.
//
// The peer is built by CMake with the machine's Go toolchain; without one
// these tests fail saying what to install (they never skip silently).

#include <gtest/gtest.h>
#include <simdjson.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "evbus/event_bus.h"
#include "kafka_support.h"
#include "test_support.h"
#include "transport/nats/nats_transport.h"
#include "transport/transport.h"

namespace evbus::test {
namespace {

constexpr int kCount = 2000;
constexpr int kAggregates = 20;
constexpr int kKafkaPartitions = 3;

// What message i carries, whoever produced it (jxtpeer's rule).
std::string Aggregate(int i) { return "agg-" + std::to_string(i % kAggregates); }
std::string Payload(int i) {
  return "{\"i\":" + std::to_string(i) + ",\"agg\":\"" + Aggregate(i) +
         "\",\"text\":\"x<>&\xc3\xa9\",\"price\":763.20}";
}
int64_t Version(int i) { return i / kAggregates + 1; }
int IndexOf(const std::string& aggregate, int64_t version) {
  return static_cast<int>((version - 1) * kAggregates + std::stoi(aggregate.substr(4)));
}

const char* GenName(WireGeneration g) {
  switch (g) {
    case WireGeneration::kSeed:
      return "seed";
    case WireGeneration::kEventId:
      return "event_id";
    case WireGeneration::kCurrent:
      return "current";
  }
  return "?";
}

std::string ExpectedEventId(WireGeneration g, const std::string& prefix, int i) {
  return g == WireGeneration::kSeed ? "" : prefix + std::to_string(i);
}
int64_t ExpectedTenant(WireGeneration g, int i) {
  return g == WireGeneration::kCurrent ? i % 3 : 0;
}

std::string GenTestName(const ::testing::TestParamInfo<WireGeneration>& param) {
  return GenName(param.param);
}

struct PeerRun {
  int code = -1;
  std::vector<std::string> lines;  // stdout
  std::string last;                // its last line ("produced ..." / "consumed ...")
};

PeerRun RunPeer(const std::string& args) {
  PeerRun run;
  const std::string peer = EVBUS_JXTPEER_PATH;
  if (peer.empty()) {
    ADD_FAILURE() << "no Go toolchain was found when this build was configured, so the jxt-core "
                     "peer (tests/interop/jxtpeer) was not built: install Go >= 1.26 "
                     "(/usr/local/go/bin/go) or pass -DEVBUS_GO=/path/to/go to cmake";
    return run;
  }
  const std::string command = peer + " " + args;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return run;
  std::string out;
  char buf[8192];
  for (size_t n; (n = std::fread(buf, 1, sizeof(buf), pipe)) > 0;) out.append(buf, n);
  const int status = pclose(pipe);
  run.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  size_t start = 0;
  for (size_t nl; (nl = out.find('\n', start)) != std::string::npos; start = nl + 1) {
    run.lines.push_back(out.substr(start, nl - start));
  }
  if (!run.lines.empty()) run.last = run.lines.back();
  return run;
}

// One envelope as seen by either side, for the common checks.
struct Seen {
  int32_t partition = 0;
  std::string key;
  Envelope e;
};

// The checks of every row: each message once, its fields and payload bytes,
// per-aggregate order, the partition jxt-core's hash partitioner chose.
void CheckSeen(const std::vector<Seen>& seen, WireGeneration gen, const std::string& id_prefix,
               int partitions) {
  std::set<int> indexes;
  std::map<std::string, int64_t> last_version;
  int duplicates = 0, order_violations = 0, misplaced = 0, wrong = 0;
  for (const Seen& s : seen) {
    const int i = IndexOf(s.e.aggregate_id, s.e.event_version);
    if (!indexes.insert(i).second) {
      ++duplicates;
      continue;
    }
    int64_t& last = last_version[s.e.aggregate_id];
    if (s.e.event_version <= last) ++order_violations;
    last = s.e.event_version;
    if (partitions > 1 && s.partition != transport::PartitionForKey(s.key, partitions)) {
      ++misplaced;
    }
    const bool exact = s.e.payload == Payload(i) && s.e.aggregate_id == Aggregate(i) &&
                       s.e.event_type == "interop.Tested" &&
                       s.e.event_id == ExpectedEventId(gen, id_prefix, i) &&
                       s.e.trace_id == "trace-" + std::to_string(i) &&
                       s.e.correlation_id == (i % 2 ? "corr-" + std::to_string(i) : "") &&
                       s.e.tenant_id == ExpectedTenant(gen, i);
    if (!exact && ++wrong <= 3) {
      ADD_FAILURE() << "message " << i << " differs: event_id=" << s.e.event_id
                    << " tenant=" << s.e.tenant_id << " payload=" << s.e.payload;
    }
  }
  std::printf(
      "[ jxt-peer ] %s: %zu seen, %zu distinct of %d, %d duplicates, %d lost, %d out of "
      "order, %d misplaced, %d differing\n",
      GenName(gen), seen.size(), indexes.size(), kCount, duplicates,
      kCount - static_cast<int>(indexes.size()), order_violations, misplaced, wrong);
  EXPECT_EQ(indexes.size(), static_cast<size_t>(kCount)) << "lost messages";
  EXPECT_EQ(*indexes.begin(), 0);
  EXPECT_EQ(*indexes.rbegin(), kCount - 1);
  EXPECT_EQ(duplicates, 0);
  EXPECT_EQ(order_violations, 0);
  EXPECT_EQ(misplaced, 0);
  EXPECT_EQ(wrong, 0);
}

// Parses the peer's consume lines ("ok" records) into Seen.
std::vector<Seen> ParsePeerLines(const PeerRun& run) {
  std::vector<Seen> seen;
  simdjson::dom::parser parser;
  for (const std::string& line : run.lines) {
    if (!line.starts_with("{")) continue;
    simdjson::dom::element doc;
    if (parser.parse(line).get(doc)) {
      ADD_FAILURE() << "peer printed bad JSON: " << line;
      continue;
    }
    bool ok = false;
    if (doc["ok"].get(ok) || !ok) {
      ADD_FAILURE() << "the Go peer could not read a record: " << line;
      continue;
    }
    Seen s;
    auto str = [&](const char* k) {
      std::string_view v;
      return doc[k].get(v) ? std::string() : std::string(v);
    };
    int64_t n = 0;
    if (!doc["partition"].get(n)) s.partition = static_cast<int32_t>(n);
    s.key = str("key");
    s.e.event_id = str("event_id");
    s.e.aggregate_id = str("aggregate_id");
    s.e.event_type = str("event_type");
    if (!doc["event_version"].get(n)) s.e.event_version = n;
    s.e.trace_id = str("trace_id");
    s.e.correlation_id = str("correlation_id");
    if (!doc["tenant_id"].get(n)) s.e.tenant_id = n;
    const std::string b64 = str("payload_b64");
    // The peer prints payload bytes as base64; decode through the codec.
    Result<Envelope> p = DecodeEnvelope(
        R"({"aggregate_id":"a","event_type":"t","event_version":1,"payload":")" + b64 + "\"}",
        PayloadFormat::kBase64);
    if (p.ok()) s.e.payload = p->payload;
    seen.push_back(std::move(s));
  }
  return seen;
}

class JxtPeer : public ServerTest {
 protected:
  JxtPeer(std::string name, std::function<std::string()> unavailable,
          std::function<Config(const std::string&)> make)
      : ServerTest(std::move(name), std::move(unavailable), std::move(make)) {}

  // evbus consumes what the peer produced, all kCount of them.
  std::vector<Seen> ConsumeWithEvbus(const Config& config, const std::string& topic,
                                     PayloadFormat format, int64_t* poison = nullptr,
                                     int want = kCount) {
    std::mutex mu;
    std::vector<Seen> seen;
    Signal signal;
    int handled = 0;
    auto bus = NewBus(config);
    if (bus == nullptr) return seen;
    SubscribeOptions options;
    options.payload_format = format;
    EXPECT_TRUE(bus->SubscribeEnvelope(
                       topic,
                       [&](const Envelope& e, const Delivery& d) {
                         std::lock_guard<std::mutex> lock(mu);
                         seen.push_back({d.record.partition, d.record.key, e});
                         signal.Update([&] { ++handled; });
                         return Status();
                       },
                       options)
                    .ok());
    EXPECT_TRUE(bus->Start().ok());
    if (poison == nullptr) {
      EXPECT_TRUE(signal.WaitUntil([&] { return handled >= want; }, 60s))
          << handled << " of " << want << " handled";
    } else {
      EXPECT_TRUE(Eventually([&] { return bus->stats().poison >= kCount; }, 60s))
          << bus->stats().poison << " of " << kCount << " poison";
      *poison = static_cast<int64_t>(bus->stats().poison);
    }
    EXPECT_TRUE(bus->Close().ok());
    bus.reset();
    return seen;
  }

  // evbus publishes kCount envelopes of generation `gen`, all acknowledged.
  void PublishWithEvbus(Config config, const std::string& topic, WireGeneration gen) {
    config.publisher.jxt_compat = gen;
    auto bus = NewBus(config);
    ASSERT_NE(bus, nullptr);
    Signal signal;
    int acked = 0, failed = 0;
    for (int i = 0; i < kCount; ++i) {
      Envelope e;
      e.event_id = "ev-" + std::to_string(i);
      e.aggregate_id = Aggregate(i);
      e.event_type = "interop.Tested";
      e.event_version = Version(i);
      e.timestamp = Timestamp::Now();
      e.trace_id = "trace-" + std::to_string(i);
      if (i % 2) e.correlation_id = "corr-" + std::to_string(i);
      e.tenant_id = i % 3;
      e.payload = Payload(i);
      ASSERT_TRUE(bus->PublishEnvelope(topic, e,
                                       [&](const PublishResult& r) {
                                         signal.Update([&] { ++(r.status.ok() ? acked : failed); });
                                       })
                      .ok());
    }
    EXPECT_TRUE(signal.WaitUntil([&] { return acked + failed == kCount; }, 60s));
    EXPECT_EQ(failed, 0);
    EXPECT_TRUE(bus->Close().ok());
  }
};

// ------------------------------------------------------------------ Kafka

class JxtPeerKafka : public JxtPeer, public ::testing::WithParamInterface<WireGeneration> {
 protected:
  JxtPeerKafka()
      : JxtPeer("jxt-kafka", KafkaUnavailable, [](const std::string& u) {
          Config c = KafkaConfig(u);
          c.kafka.topic_partitions = kKafkaPartitions;
          return c;
        }) {}
  std::string Flags() const {
    return "--brokers " + Brokers() + " --gen " + GenName(GetParam()) + " --count " +
           std::to_string(kCount);
  }
};

TEST_P(JxtPeerKafka, GoProducesEvbusConsumes) {
  const std::string topic = unique_;
  PeerRun produced =
      RunPeer("kafka-produce " + Flags() + " --topic " + topic + " --aggregates " +
              std::to_string(kAggregates) + " --partitions " + std::to_string(kKafkaPartitions));
  ASSERT_EQ(produced.code, 0) << produced.last;
  EXPECT_EQ(produced.last, "produced " + std::to_string(kCount) + " failed 0");
  CheckSeen(ConsumeWithEvbus(config_, topic, PayloadFormat::kAuto), GetParam(), "go-",
            kKafkaPartitions);
}

TEST_P(JxtPeerKafka, EvbusProducesGoConsumes) {
  const std::string topic = unique_;
  PublishWithEvbus(config_, topic, GetParam());
  PeerRun consumed = RunPeer("kafka-consume " + Flags() + " --topic " + topic + " --group " +
                             unique_ + "-go --timeout 60s");
  ASSERT_EQ(consumed.code, 0) << consumed.last;
  CheckSeen(ParsePeerLines(consumed), GetParam(), "ev-", kKafkaPartitions);
}

// The old bug: a raw_json subscription handed a seed-era base64 payload over
// as its quoted text. Now every such record is poison, dead-lettered with the
// reason, and the handler never sees it.
class JxtPeerKafkaFormats : public JxtPeer {
 protected:
  JxtPeerKafkaFormats() : JxtPeer("jxt-kafka-fmt", KafkaUnavailable, KafkaConfig) {}
};

TEST_F(JxtPeerKafkaFormats, SeedPayloadOnARawJsonSubscriptionIsPoisonNotAltered) {
  const std::string topic = unique_;
  PeerRun produced = RunPeer("kafka-produce --brokers " + Brokers() + " --gen seed --count " +
                             std::to_string(kCount) + " --topic " + topic + " --aggregates " +
                             std::to_string(kAggregates) + " --partitions 1");
  ASSERT_EQ(produced.code, 0) << produced.last;

  int64_t poison = 0;
  std::vector<Seen> handled = ConsumeWithEvbus(config_, topic, PayloadFormat::kRawJson, &poison);
  std::printf("[ jxt-peer ] seed on raw_json: %lld poison of %d, %zu handled\n",
              static_cast<long long>(poison), kCount, handled.size());
  EXPECT_EQ(poison, kCount);
  EXPECT_TRUE(handled.empty()) << "a base64 payload reached a raw_json handler: "
                               << handled.front().e.payload;

  // Every one was dead-lettered with the decoder's reason.
  Config dlq_config = config_;
  dlq_config.subscriber.group += "-dlq";
  auto dlq = NewBus(dlq_config);
  ASSERT_NE(dlq, nullptr);
  std::vector<std::string> reasons;  // guarded by signal's mutex
  Signal signal;
  ASSERT_TRUE(dlq->Subscribe(topic + config_.subscriber.dead_letter_suffix,
                             [&](const Record& r, const Delivery&) {
                               const auto why = FindHeader(r.headers, "X-Error");
                               signal.Update([&] { reasons.emplace_back(why.value_or("")); });
                               return Status();
                             })
                  .ok());
  ASSERT_TRUE(dlq->Start().ok());
  EXPECT_TRUE(signal.WaitUntil([&] { return reasons.size() >= static_cast<size_t>(kCount); }, 60s));
  EXPECT_TRUE(dlq->Close().ok());
  std::lock_guard<std::mutex> lock(signal.mutex());
  EXPECT_EQ(reasons.size(), static_cast<size_t>(kCount));
  const auto named = std::count_if(reasons.begin(), reasons.end(), [](const std::string& why) {
    return why.find("payload: a base64 string") != std::string::npos &&
           why.find("payload_format is raw_json") != std::string::npos;
  });
  EXPECT_EQ(named, kCount) << "e.g. X-Error: " << (reasons.empty() ? "" : reasons.front());
}

INSTANTIATE_TEST_SUITE_P(Generations, JxtPeerKafka,
                         ::testing::Values(WireGeneration::kSeed, WireGeneration::kEventId,
                                           WireGeneration::kCurrent),
                         GenTestName);

// ------------------------------------------------------------------- NATS

std::string NatsUrl() {
  const char* url = std::getenv("EVBUS_NATS_URL");
  return url != nullptr && *url != '\0' ? url : "nats://127.0.0.1:14222";
}

std::string NatsUnavailableForPeer() {
  const char* ci = std::getenv("CI");
  if (ci != nullptr && std::string(ci) == "true") return "";
  NatsConfig n;
  n.urls = {NatsUrl()};
  n.connect_timeout = 500ms;
  std::string why = transport::nats::ProbeServer(n);
  return why.empty() ? "" : why + " (scripts/nats up)";
}

// jxt-core's layout: one stream for the bus, subject = topic.
Config JxtNatsConfig(const std::string& unique) {
  Config c;
  c.transport = TransportKind::kNats;
  c.nats.urls = {NatsUrl()};
  c.nats.layout = NatsLayout::kJxt;
  std::string stream = "JXT_" + unique;
  for (char& ch : stream) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  c.nats.stream = stream;
  c.nats.subjects = {unique + ".>"};
  c.nats.storage = "memory";
  c.nats.ack_wait = 5s;
  UseFastTestSettings(c);
  return c;
}

class JxtPeerNatsBase : public JxtPeer {
 protected:
  JxtPeerNatsBase() : JxtPeer("jxt-nats", NatsUnavailableForPeer, JxtNatsConfig) {}
  void TearDown() override {  // the bus's stream outlives it on the shared server
    if (!unique_.empty()) (void)transport::nats::DeleteStreams(config_, config_.nats.stream);
    JxtPeer::TearDown();
  }
};

class JxtPeerNats : public JxtPeerNatsBase, public ::testing::WithParamInterface<WireGeneration> {
 protected:
  std::string Flags() const {
    return "--url " + NatsUrl() + " --stream " + config_.nats.stream + " --subjects '" + unique_ +
           ".>' --gen " + GenName(GetParam()) + " --count " + std::to_string(kCount);
  }
};

TEST_P(JxtPeerNats, GoProducesEvbusConsumes) {
  const std::string topic = unique_ + ".orders";
  PeerRun produced = RunPeer("nats-produce " + Flags() + " --topic " + topic + " --aggregates " +
                             std::to_string(kAggregates));
  ASSERT_EQ(produced.code, 0) << produced.last;
  EXPECT_EQ(produced.last, "produced " + std::to_string(kCount) + " failed 0");
  CheckSeen(ConsumeWithEvbus(config_, topic, PayloadFormat::kAuto), GetParam(), "go-", 1);
}

TEST_P(JxtPeerNats, EvbusProducesGoConsumes) {
  const std::string topic = unique_ + ".orders";
  PublishWithEvbus(config_, topic, GetParam());
  PeerRun consumed = RunPeer("nats-consume " + Flags() + " --topic " + topic + " --durable " +
                             unique_ + "-go --timeout 60s");
  ASSERT_EQ(consumed.code, 0) << consumed.last;
  CheckSeen(ParsePeerLines(consumed), GetParam(), "ev-", 1);
}

// Moving a consumer from Go to evbus: with subscriber.group set to jxt-core's
// durable name base, evbus takes over the same durable consumer and goes on
// exactly where the Go consumer stopped: nothing lost, nothing read twice.
class JxtPeerNatsMigration : public JxtPeerNatsBase {};

TEST_F(JxtPeerNatsMigration, EvbusTakesOverTheGoDurableWhereItStopped) {
  const std::string topic = unique_ + ".orders";
  const std::string flags = "--url " + NatsUrl() + " --stream " + config_.nats.stream +
                            " --subjects '" + unique_ + ".>' --gen current --topic " + topic;
  PeerRun produced = RunPeer("nats-produce " + flags + " --count " + std::to_string(kCount) +
                             " --aggregates " + std::to_string(kAggregates));
  ASSERT_EQ(produced.code, 0) << produced.last;
  const int half = kCount / 2;
  PeerRun go = RunPeer("nats-consume " + flags + " --count " + std::to_string(half) +
                       " --durable " + config_.subscriber.group + " --timeout 60s");
  ASSERT_EQ(go.code, 0) << go.last;
  std::vector<Seen> seen = ParsePeerLines(go);
  const size_t by_go = seen.size();
  std::vector<Seen> by_evbus =
      ConsumeWithEvbus(config_, topic, PayloadFormat::kAuto, nullptr, kCount - half);
  seen.insert(seen.end(), by_evbus.begin(), by_evbus.end());
  std::printf("[ jxt-peer ] migration: Go read %zu, then evbus %zu on the same durable\n", by_go,
              by_evbus.size());
  EXPECT_EQ(by_go, static_cast<size_t>(half));
  EXPECT_EQ(by_evbus.size(), static_cast<size_t>(kCount - half));
  CheckSeen(seen, WireGeneration::kCurrent, "go-", 1);
}

// The Go side of the seed comparison (README: nats-seed): every message of
// every repetition arrives, and the summary line the comparison quotes is
// printed.
class JxtPeerNatsSeed : public JxtPeerNatsBase {};

TEST_F(JxtPeerNatsSeed, GoSeedWorkloadReceivesEveryMessage) {
  PeerRun run = RunPeer("nats-seed --url " + NatsUrl() + " --count 200 --reps 2");
  ASSERT_EQ(run.code, 0) << run.last;
  int counted = 0;
  for (const std::string& line : run.lines) {
    if (line.find("received 200 of 200") != std::string::npos) ++counted;
  }
  EXPECT_EQ(counted, 3) << "a warm-up and two repetitions";
  EXPECT_TRUE(run.last.starts_with("nats-seed 200 over 2 repetitions: msg/s ")) << run.last;
}

INSTANTIATE_TEST_SUITE_P(Generations, JxtPeerNats,
                         ::testing::Values(WireGeneration::kSeed, WireGeneration::kEventId,
                                           WireGeneration::kCurrent),
                         GenTestName);

}  // namespace
}  // namespace evbus::test
