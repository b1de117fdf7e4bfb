// The NATS JetStream transport: the conformance suite plus what only NATS
// has (Nats-Msg-Id de-duplication, leases shared by a group, cnats threads in
// the census). Needs a server: scripts/nats up (EVBUS_NATS_URL overrides).

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <set>
#include <thread>

#include "conformance.h"
#include "crash_consumer.h"
#include "free_port.h"
#include "nats_support.h"
#include "transport/nats/nats_common.h"
#include "transport/nats/nats_leases.h"
#include "transport/nats/nats_session.h"
#include "transport/nats/nats_transport.h"
#include "transport/transport.h"

namespace evbus::test {
namespace {

Config NatsConfig(const std::string& unique) { return NatsTestConfig(unique); }

int64_t NatsCommitted(const Config& config, const std::string& topic, int32_t partition) {
  Result<int64_t> c =
      transport::nats::CommittedOffset(config, config.subscriber.group, topic, partition);
  return c.ok() ? *c : -1;
}

std::string NatsUnavailable() { return NatsTestUnavailable(); }

const bool kNatsRegistered = RegisterConformanceTransport(
    TransportUnderTest{"nats", 4, NatsConfig, NatsCommitted, NatsUnavailable});

// The same suite with nats.notices: consumers wait on their streams' notices.
Config NatsNoticesConfig(const std::string& unique) {
  Config config = NatsTestConfig(unique);
  config.nats.notices = true;
  return config;
}
const bool kNatsNoticesRegistered = RegisterConformanceTransport(
    TransportUnderTest{"nats_notices", 4, NatsNoticesConfig, NatsCommitted, NatsUnavailable});

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

// A stream that cannot be ensured before the first publish (validate_only and
// a missing topic) fails that publish by name, and Close() still cleans up:
// cnats's JetStream context had never published (it segfaulted in Close).
TEST_F(NatsTest, PublishWhoseStreamCannotBeEnsuredFailsAndClosesCleanly) {
  Config config = config_;
  config.topic_strategy = TopicStrategy::kValidateOnly;
  std::unique_ptr<EventBus> bus = NewBus(config);
  ASSERT_NE(bus, nullptr);
  Record r;
  r.topic = unique_ + ".missing";
  r.key = "a-1";
  const Status s = bus->Publish(r);
  EXPECT_EQ(s.code(), ErrorCode::kNotFound) << s.ToString();
  EXPECT_NE(s.message().find("validate_only"), std::string::npos) << s.ToString();
  auto report = bus->Close();
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->status.ok()) << report->ToString();
}

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

// nats.notices: each stored message's headers are republished, without its
// body, to _EVBUS.NOTICE.<its subject> with its stream sequence, which the
// topic's consumers wait on (and any other reader may).
TEST_F(NatsTest, NoticesTellEachStoredMessagesSequenceWithoutItsBody) {
  Config config = config_;
  config.nats.notices = true;
  const std::string topic = unique_ + "-notices";
  const std::string key = "k-1";
  const int32_t partition = transport::PartitionForKey(key, 4);
  {
    transport::nats::NatsSession session(config, 0);
    transport::nats::SessionPin pin(session);
    ASSERT_TRUE(session.Connect().ok());
    natsSubscription* sub = nullptr;
    natsStatus s = NATS_OK;
    const std::string notices = "_EVBUS.NOTICE." + topic + ".*";
    session.Attributed(
        [&] { s = natsConnection_SubscribeSync(&sub, session.connection(), notices.c_str()); });
    ASSERT_EQ(s, NATS_OK) << natsStatus_GetText(s);
    auto bus = NewBus(config);
    Record r;
    r.topic = topic;
    r.key = key;
    r.payload = "a body the notice leaves out";
    ASSERT_TRUE(bus->Publish(r).ok());
    ASSERT_TRUE(bus->Publish(r).ok());
    for (int seq = 1; seq <= 2; ++seq) {
      natsMsg* msg = nullptr;
      ASSERT_EQ(natsSubscription_NextMsg(&msg, sub, 10'000), NATS_OK) << "notice " << seq;
      const char* told = nullptr;
      EXPECT_EQ(natsMsgHeader_Get(msg, "Nats-Sequence", &told), NATS_OK);
      EXPECT_STREQ(told, std::to_string(seq).c_str());
      EXPECT_EQ(std::string(natsMsg_GetSubject(msg)),
                "_EVBUS.NOTICE." + topic + "." + std::to_string(partition));
      EXPECT_EQ(natsMsg_GetDataLength(msg), 0);
      natsMsg_Destroy(msg);
    }
    natsSubscription_Destroy(sub);
    ASSERT_TRUE(bus->Close().ok());
  }
  EXPECT_EQ(CountProcessThreads(), baseline_threads_) << TakeCensus().ToTable();
}

// Whether this server lets an update change a stream's RePublish (2.10 and
// later do; 2.9 refuses), tried on a stream of its own.
bool ServerChangesRePublish(const Config& config, const std::string& unique) {
  transport::nats::NatsSession session(config, 0);
  transport::nats::SessionPin pin(session);
  if (!session.Connect().ok()) return false;
  const std::string name = "EVBUS_PROBE_" + unique;
  const std::string subject = "probe." + unique;
  const char* subjects[] = {subject.c_str()};
  jsStreamConfig sc;
  jsStreamConfig_Init(&sc);
  sc.Name = name.c_str();
  sc.Subjects = subjects;
  sc.SubjectsLen = 1;
  sc.Storage = js_MemoryStorage;
  if (js_AddStream(nullptr, session.js(), &sc, nullptr, nullptr) != NATS_OK) return false;
  const std::string destination = "probe-notices." + unique;
  jsRePublish rp;
  jsRePublish_Init(&rp);
  rp.Source = subject.c_str();
  rp.Destination = destination.c_str();
  sc.RePublish = &rp;
  const bool changed = js_UpdateStream(nullptr, session.js(), &sc, nullptr, nullptr) == NATS_OK;
  js_DeleteStream(session.js(), name.c_str(), nullptr, nullptr);
  return changed;
}

// Under topic_strategy create_or_update, turning nats.notices on or off for
// streams made before never fails a publish: a server that can change a
// stream's RePublish gets the new setting, one that cannot (2.9) keeps the
// stream's, and members with notices on still read a stream without them.
TEST_F(NatsTest, NoticesSettingNeverFailsPublishesToExistingStreams) {
  const std::string topic = unique_ + "-notices-toggle";
  const bool follows = ServerChangesRePublish(config_, unique_);
  Config config = config_;
  config.topic_strategy = TopicStrategy::kCreateOrUpdate;
  int published = 0;
  // Publishes once with `notices`; returns which of the topic's streams
  // republish after that.
  auto republishing_after = [&](bool notices) {
    config.nats.notices = notices;
    std::vector<bool> out;
    auto bus = NewBus(config);
    Record r;
    r.topic = topic;
    r.key = "k";
    r.payload = std::to_string(published);
    const Status sent = bus->Publish(r);
    EXPECT_TRUE(sent.ok()) << "with notices " << notices << ": " << sent.ToString();
    ++published;
    transport::nats::NatsSession session(config, 0);
    transport::nats::SessionPin pin(session);
    EXPECT_OK(session.Connect());
    for (int32_t p = 0; p < config.nats.partitions; ++p) {
      const std::string stream = transport::nats::StreamName(config.nats, topic, p);
      jsStreamInfo* info = nullptr;
      const natsStatus s = js_GetStreamInfo(&info, session.js(), stream.c_str(), nullptr, nullptr);
      EXPECT_EQ(s, NATS_OK) << stream << ": " << natsStatus_GetText(s);
      out.push_back(s == NATS_OK && info->Config->RePublish != nullptr);
      jsStreamInfo_Destroy(info);
    }
    EXPECT_OK(bus->Close().status());
    return out;
  };
  const std::vector<bool> off(4, false), on(4, true);
  EXPECT_EQ(republishing_after(false), off) << "made without notices";
  EXPECT_EQ(republishing_after(true), follows ? on : off) << "notices turned on";
  // A member with notices on reads whatever the streams do.
  HandledCount handled;
  {
    auto consumer = NewBus(config);
    ASSERT_OK(consumer->Subscribe(topic, handled.handler()));
    ASSERT_OK(consumer->Start());
    EXPECT_TRUE(handled.WaitFor(published, 30s))
        << "handled " << handled.count() << " of " << published;
    EXPECT_OK(consumer->Close().status());
  }
  EXPECT_EQ(republishing_after(false), off) << "notices turned off again";
  EXPECT_EQ(CountProcessThreads(), baseline_threads_) << TakeCensus().ToTable();
}

// A partition's durable consumer that disappears under its member (deleted
// by an operator, or lost by a cluster in a failover) is made again: the
// member does not go on fetching from nothing.
TEST_F(NatsTest, DurableConsumerDeletedUnderAMemberIsMadeAgain) {
  const std::string topic = unique_ + "-gone";
  const std::string key = "k-1";
  const int32_t partition = transport::PartitionForKey(key, config_.nats.partitions);
  HandledCount handled;
  auto consumer = NewBus(config_);
  ASSERT_OK(consumer->Subscribe(topic, handled.handler()));
  ASSERT_OK(consumer->Start());
  auto producer = NewBus(config_);
  auto publish = [&] {
    Record r;
    r.topic = topic;
    r.key = key;
    r.payload = "x";
    EXPECT_OK(producer->Publish(std::move(r)));
  };
  publish();
  ASSERT_TRUE(handled.WaitFor(1, 30s));
  {
    transport::nats::NatsSession session(config_, 0);
    transport::nats::SessionPin pin(session);
    ASSERT_OK(session.Connect());
    const std::string stream = transport::nats::StreamName(config_.nats, topic, partition);
    const std::string durable =
        transport::nats::DurableName(config_.nats, config_.subscriber.group, topic, partition);
    const natsStatus s =
        js_DeleteConsumer(session.js(), stream.c_str(), durable.c_str(), nullptr, nullptr);
    ASSERT_EQ(s, NATS_OK) << durable << ": " << natsStatus_GetText(s);
  }
  publish();
  EXPECT_TRUE(handled.WaitFor(2, 30s)) << "handled " << handled.count() << " of 2";
  EXPECT_OK(producer->Close().status());
  EXPECT_OK(consumer->Close().status());
  producer.reset();
  consumer.reset();
  EXPECT_EQ(CountProcessThreads(), baseline_threads_) << TakeCensus().ToTable();
}

// JetStream stops delivering at MaxAckPending unacked messages (two windows):
// with a commit interval longer than the test, one partition gets far past
// that only because settled messages are acked early.
TEST_F(NatsTest, PartitionKeepsFlowingPastTheAckBoundBetweenCommits) {
  const std::string topic = unique_ + "-flow";
  Config config = config_;
  config.subscriber.window = 16;  // MaxAckPending 32, acked every 8 settled
  config.subscriber.commit_interval = std::chrono::minutes(1);
  constexpr int kEvents = 200;  // six times the ack bound, on one key
  HandledCount handled;
  auto consumer = NewBus(config);
  ASSERT_OK(consumer->Subscribe(topic, handled.handler()));
  ASSERT_OK(consumer->Start());
  auto producer = NewBus(config);
  for (int i = 0; i < kEvents; ++i) {
    Record r;
    r.topic = topic;
    r.key = "one-key";
    r.payload = std::to_string(i);
    ASSERT_OK(producer->Publish(std::move(r)));
  }
  EXPECT_TRUE(handled.WaitFor(kEvents, 30s)) << "handled " << handled.count() << " of " << kEvents;
  ASSERT_TRUE(producer->Close().ok());
  ASSERT_TRUE(consumer->Close().ok());
}

// evbus topics on NATS: topics recovered from their partition streams (not
// the lease stream), with the partitions found and the streams' max age.
TEST_F(NatsTest, ListTopicsFindsTopicsFromTheirStreams) {
  Config config = config_;
  config.nats.max_age = std::chrono::hours(36);
  Result<std::unique_ptr<transport::Transport>> t = transport::CreateTransport(config, 0);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  const std::string topic = unique_ + ".list";  // a dot, as subjects allow
  ASSERT_OK((*t)->EnsureTopic(topic));
  Result<std::vector<transport::TopicInfo>> topics = (*t)->ListTopics();
  ASSERT_TRUE(topics.ok()) << topics.status().ToString();
  bool found = false;
  for (const transport::TopicInfo& info : *topics) {
    EXPECT_EQ(info.name.find("evbus.lease"), std::string::npos) << "the lease stream is no topic";
    if (info.name != topic) continue;
    found = true;
    EXPECT_EQ(info.partitions, config.nats.partitions);
    EXPECT_EQ(info.retention, "max age 36h");
  }
  EXPECT_TRUE(found) << topic << " not listed";
}

// Deleting throwaway topics (the benchmarks do): every partition's stream
// goes, a missing topic is skipped, and the same name can be made again.
TEST_F(NatsTest, DeleteTopicsRemovesEveryPartitionStream) {
  Result<std::unique_ptr<transport::Transport>> t = transport::CreateTransport(config_, 0);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  const std::string topic = unique_ + "-delete";
  ASSERT_OK((*t)->EnsureTopic(topic));
  ASSERT_OK((*t)->DeleteTopics({topic, unique_ + "-delete-never-made"}));
  Result<transport::TopicInfo> gone = (*t)->DescribeTopic(topic);
  EXPECT_EQ(gone.status().code(), ErrorCode::kNotFound) << gone.status().ToString();
  Result<std::vector<transport::TopicInfo>> topics = (*t)->ListTopics();
  ASSERT_TRUE(topics.ok()) << topics.status().ToString();
  for (const transport::TopicInfo& info : *topics) EXPECT_NE(info.name, topic);
  ASSERT_OK((*t)->EnsureTopic(topic));  // the transport forgot it had ensured it
  Result<transport::TopicInfo> back = (*t)->DescribeTopic(topic);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->partitions, config_.nats.partitions);
  EXPECT_OK((*t)->DeleteTopics({topic}));
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
  EXPECT_GE(cnats_of_bus, 2u) << "the connection's reader and its subscriptions' delivery threads\n"
                              << census.ToTable();
  Result<CloseReport> report = bus->Close();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->bus_threads_after_close, 0u);
  // T1 right after Close, before the bus (and its transport) is destroyed.
  EXPECT_EQ(CountProcessThreads(), baseline_threads_) << TakeCensus().ToTable();
  EXPECT_EQ(TakeCensus().ByComponent().count("cnats"), 0u);
}

// A subscription ended while the connection's reader hands it a message:
// cnats 3.4 then frees it under the reader (nats.c #637), which crashed a
// notices member in CI. The bus retires subscriptions instead (NatsSession::
// Retire). Destroying them at once instead, this test crashed every ASan run
// (SEGV in natsConn_processMsg, as in CI) and some plain ones.
void DropMessage(natsConnection*, natsSubscription*, natsMsg* msg, void*) { natsMsg_Destroy(msg); }

TEST_F(NatsTest, SubscriptionsEndedUnderAFloodOfMessagesAreRetiredSafely) {
  const std::string subject = "evbus-flood." + unique_;
  std::atomic<bool> stop{false};
  {
    transport::nats::NatsSession flooder(config_, 0), session(config_, 0);
    transport::nats::SessionPin flooder_pin(flooder), pin(session);
    ASSERT_TRUE(flooder.Connect().ok());
    ASSERT_TRUE(session.Connect().ok());
    std::thread flood([&] {
      while (!stop.load()) natsConnection_PublishString(flooder.connection(), subject.c_str(), "x");
    });
    int64_t received = 0;
    constexpr int kRounds = 3000;
    for (int i = 0; i < kRounds; ++i) {
      // Both kinds the bus uses: pulled (pull and ephemeral subscriptions)
      // and called back on a thread of their own (notices).
      natsSubscription* sub = nullptr;
      natsStatus s = i % 2 == 0
                         ? natsConnection_SubscribeSync(&sub, session.connection(), subject.c_str())
                         : natsConnection_Subscribe(&sub, session.connection(), subject.c_str(),
                                                    DropMessage, nullptr);
      ASSERT_EQ(s, NATS_OK);
      // Once the server has the subscription, the flood reaches it.
      ASSERT_EQ(natsConnection_FlushTimeout(session.connection(), 5000), NATS_OK);
      int64_t delivered = 0;
      natsSubscription_GetDelivered(sub, &delivered);
      int pending = 0;
      natsSubscription_GetPending(sub, &pending, nullptr);
      received += static_cast<int64_t>(delivered) + pending;
      session.Retire(sub);
    }
    stop = true;
    flood.join();
    EXPECT_GT(received, 0) << "the flood never reached a subscription: the test proved nothing";
  }
  EXPECT_EQ(CountProcessThreads(), baseline_threads_) << TakeCensus().ToTable();
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
  // What the survivor gets again is what the victim held unacked: at most
  // MaxAckPending (two windows) a partition, and far fewer as acks go out at
  // each half window settled (47-52 of 500 came again in 8 runs). The bound
  // stays one window a partition, and the victim is killed past it.
  sc.max_duplicates = sc.config.subscriber.window * sc.config.nats.partitions;
  sc.kill_after = sc.total() / 2;
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

// Every way setting a topic up can fail, on the publish path and at Start:
// each fails by name, and Close() after it is clean with no thread left (the
// fixture checks the census). cnats segfaulted in Close() on such a path.
class NatsSetupFailureTest : public NatsTest {
 protected:
  // Publishes one record to `topic` and subscribes to it on a second bus;
  // both must fail with `code` and a message holding `says`.
  void ExpectPublishAndStartFail(const Config& config, const std::string& topic, ErrorCode code,
                                 const std::string& says) {
    std::unique_ptr<EventBus> pub = NewBus(config);
    ASSERT_NE(pub, nullptr);
    Record r;
    r.topic = topic;
    r.key = "a-1";
    const Status published = pub->Publish(r);
    EXPECT_EQ(published.code(), code) << published.ToString();
    EXPECT_NE(published.message().find(says), std::string::npos) << published.ToString();
    auto closed = pub->Close();
    ASSERT_TRUE(closed.ok());
    EXPECT_TRUE(closed->status.ok()) << closed->ToString();

    std::unique_ptr<EventBus> sub = NewBus(config);
    ASSERT_NE(sub, nullptr);
    ASSERT_OK(sub->Subscribe(topic, [](const Record&, const Delivery&) { return Status(); }));
    const Status started = sub->Start();
    EXPECT_EQ(started.code(), code) << started.ToString();
    EXPECT_NE(started.message().find(says), std::string::npos) << started.ToString();
    closed = sub->Close();
    ASSERT_TRUE(closed.ok());
    EXPECT_TRUE(closed->status.ok()) << closed->ToString();
  }

  // jxt-core's layout: one stream for the bus with subjects <unique>.>.
  Config JxtLayout() const {
    Config c = config_;
    c.nats.layout = NatsLayout::kJxt;
    c.nats.stream = "JXT_" + Sanitized(unique_);
    c.nats.subjects = {unique_ + ".>"};
    return c;
  }
  static std::string Sanitized(std::string s) {
    for (char& ch : s) {
      if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
    }
    return s;
  }
  void TearDown() override {
    if (!unique_.empty()) (void)transport::nats::DeleteStreams(config_, JxtLayout().nats.stream);
    NatsTest::TearDown();
  }
};

// In the jxt layout topics share the bus's one stream: deleting one alone is
// refused by name (purge is the way), and the stream is left as it was.
TEST_F(NatsSetupFailureTest, DeleteTopicsInTheSharedStreamIsRefusedByName) {
  const Config config = JxtLayout();
  Result<std::unique_ptr<transport::Transport>> t = transport::CreateTransport(config, 0);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  const std::string topic = unique_ + ".orders";
  ASSERT_OK((*t)->EnsureTopic(topic));
  const Status s = (*t)->DeleteTopics({topic});
  EXPECT_EQ(s.code(), ErrorCode::kFailedPrecondition) << s.ToString();
  EXPECT_NE(s.message().find(config.nats.stream), std::string::npos) << s.ToString();
  EXPECT_OK((*t)->DescribeTopic(topic).status());
}

TEST_F(NatsSetupFailureTest, JxtLayoutRefusesATopicOutsideItsSubjects) {
  ExpectPublishAndStartFail(JxtLayout(), "elsewhere." + unique_, ErrorCode::kFailedPrecondition,
                            "is not in the subjects [" + unique_ + ".>]");
}

TEST_F(NatsSetupFailureTest, StreamsWhoseSubjectsOverlapAnotherStreamFailByName) {
  // A jxt-layout stream takes <unique>.>; evbus's own layout then cannot make
  // the stream of topic <unique>.orders, whose subjects fall under it.
  std::unique_ptr<EventBus> jxt = NewBus(JxtLayout());
  ASSERT_NE(jxt, nullptr);
  Record r;
  r.topic = unique_ + ".first";
  r.key = "a-1";
  ASSERT_OK(jxt->Publish(r));
  ASSERT_TRUE(jxt->Close().ok());
  ExpectPublishAndStartFail(config_, unique_ + ".orders", ErrorCode::kInternal, "subjects overlap");
}

TEST_F(NatsSetupFailureTest, JxtStreamMissingUnderValidateOnlyFailsByName) {
  Config c = JxtLayout();
  c.topic_strategy = TopicStrategy::kValidateOnly;
  ExpectPublishAndStartFail(c, unique_ + ".orders", ErrorCode::kNotFound, c.nats.stream);
}

TEST_F(NatsSetupFailureTest, UnreachableServerFailsByAddress) {
  Config c = config_;
  c.nats.urls = {"nats://127.0.0.1:1"};
  c.nats.connect_timeout = 500ms;
  ExpectPublishAndStartFail(c, unique_ + ".orders", ErrorCode::kUnavailable, "127.0.0.1:1");
}

// A nats-server of the test's own (port, monitoring port, store), run with
// scripts/nats: restarting it disturbs no other test, even under ctest -j.
class PrivateNatsServer {
 public:
  PrivateNatsServer()
      : port_(FreePort()),
        monitor_port_(FreePort()),
        dir_("/tmp/evbus-nats-test-" + std::to_string(port_)) {}
  ~PrivateNatsServer() {
    Run("down");
    std::remove((dir_ + ".lock").c_str());
  }
  PrivateNatsServer(const PrivateNatsServer&) = delete;
  PrivateNatsServer& operator=(const PrivateNatsServer&) = delete;

  bool Up() { return Run("up"); }
  bool Down() { return Run("down"); }
  // Returns once the new server answers (the clients reconnect after it).
  bool Restart() { return Run("restart"); }
  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }

 private:
  bool Run(const std::string& command) const {
    const std::string line = "EVBUS_NATS_PORT=" + std::to_string(port_) +
                             " EVBUS_NATS_MONITOR_PORT=" + std::to_string(monitor_port_) +
                             " EVBUS_NATS_DIR=" + dir_ + " " + EVBUS_SOURCE_DIR + "/scripts/nats " +
                             command + " >/dev/null";
    return port_ != 0 && monitor_port_ != 0 && std::system(line.c_str()) == 0;
  }

  const int port_;
  const int monitor_port_;
  const std::string dir_;
};

// Restarting the server: the tests of this fixture run against a private one.
class NatsRestartTest : public NatsTest {
 protected:
  void SetUp() override {
    NatsTest::SetUp();
    if (IsSkipped()) return;
    ASSERT_TRUE(server_.Up()) << "scripts/nats up on a private port failed";
    config_.nats.urls = {server_.url()};
    config_.nats.storage = "file";  // what survives a restart
    config_.nats.reconnect_wait = 50ms;
  }

  PrivateNatsServer server_;
};

// Which statuses the bus's error callback got, by text.
struct ErrorLog {
  Signal signal;
  std::vector<std::string> messages;
  bool Saw(const std::string& part) {
    for (const std::string& m : messages) {
      if (m.find(part) != std::string::npos) return true;
    }
    return false;
  }
};

TEST_F(NatsRestartTest, ServerRestartLosesNothingAndEveryPublishCompletes) {
  const std::string topic = unique_ + "-restart";
  constexpr int kKeys = 10;
  ErrorLog errors;
  Signal signal;
  std::map<std::string, std::vector<int64_t>> handled;  // key -> versions, in order
  std::map<std::string, int> completions;               // event id -> results
  std::set<std::pair<std::string, int64_t>> stored;     // acked OK: must be handled
  int failed = 0;
  auto consumer = NewBus(config_);
  ASSERT_OK(consumer->SetErrorCallback([&](const Status& s) {
    errors.signal.Update([&] { errors.messages.push_back(s.message()); });
  }));
  ASSERT_OK(consumer->SubscribeEnvelope(topic, [&](const Envelope& e, const Delivery&) {
    signal.Update([&] { handled[e.aggregate_id].push_back(e.event_version); });
    return Status();
  }));
  ASSERT_OK(consumer->Start());
  auto producer = NewBus(config_);
  int published = 0;
  int refused = 0;  // refused at once while the connection was broken: no result comes
  // `may_refuse`: around the restart a publish may be refused on the spot
  // (Unavailable: the socket broke); that is an error report too, just not
  // an accepted publish.
  auto publish_round = [&](int version, bool may_refuse) {
    for (int k = 0; k < kKeys; ++k) {
      const Envelope e = NewEnvelope("key-" + std::to_string(k), "T", version, "{}");
      const Status s = producer->PublishEnvelope(topic, e, [&, e](const PublishResult& r) {
        signal.Update([&] {
          ++completions[e.event_id];
          if (r.status.ok()) {
            stored.insert({e.aggregate_id, e.event_version});
          } else {
            ++failed;
          }
        });
      });
      if (!s.ok() && may_refuse && s.code() == ErrorCode::kUnavailable) {
        ++refused;
        continue;
      }
      ASSERT_OK(s);
      ++published;
    }
  };
  auto all_completed = [&] { return static_cast<int>(completions.size()) == published; };
  auto all_stored_handled = [&] {
    for (const auto& [key, v] : stored) {
      const auto& vs = handled[key];
      if (std::find(vs.begin(), vs.end(), v) == vs.end()) return false;
    }
    return true;
  };
  int version = 0;
  for (int i = 0; i < 20; ++i) publish_round(++version, false);
  ASSERT_TRUE(signal.WaitUntil([&] { return all_completed() && all_stored_handled(); }, 30s));

  // Publish on while the server goes down and comes back: whatever was in
  // flight at the stop completes, with an error if its ack was lost.
  std::atomic<bool> restarted{false}, restart_done{false};
  std::thread restarter([&] {
    restarted = server_.Restart();
    restart_done = true;
  });
  while (!restart_done && version < 1000) publish_round(++version, true);
  restarter.join();
  ASSERT_TRUE(restarted) << "scripts/nats restart failed";
  for (int i = 0; i < 20; ++i) publish_round(++version, true);  // after the restart

  // The ack wait (30 s) bounds the completions of publishes the server lost.
  ASSERT_TRUE(signal.WaitUntil(all_completed, 60s)) << completions.size() << " of " << published;
  ASSERT_TRUE(signal.WaitUntil(all_stored_handled, 60s));
  ASSERT_TRUE(consumer->Close().ok());
  ASSERT_TRUE(producer->Close().ok());
  {
    std::lock_guard<std::mutex> lock(signal.mutex());
    for (const auto& [id, n] : completions) EXPECT_EQ(n, 1) << id << " completed " << n << " times";
    // First deliveries in log (= publish) order; replays after a takeover
    // may repeat earlier versions.
    for (const auto& [key, vs] : handled) {
      std::set<int64_t> seen;
      int64_t high = 0;
      for (int64_t v : vs) {
        if (!seen.insert(v).second) continue;
        EXPECT_GT(v, high) << key << ": version " << v << " first came after " << high;
        high = std::max(high, v);
      }
    }
    RecordProperty("published", published);
    RecordProperty("failed", failed);
    RecordProperty("refused", refused);
  }
  std::lock_guard<std::mutex> lock(errors.signal.mutex());
  EXPECT_TRUE(errors.Saw("disconnected")) << "the bus was told of the outage";
}

// The connection state reaches the user: the error callback and the
// connection callback both hear of the disconnect and of the reconnect; the
// threads cnats starts to reconnect are attributed in the census; the
// subscription works again afterwards.
TEST_F(NatsRestartTest, DisconnectAndReconnectReachTheBusAndTheCensus) {
  const std::string topic = unique_ + "-conn";
  ErrorLog errors;
  Signal signal;
  std::vector<bool> states;  // connection callback, in order
  int handled = 0;
  auto bus = NewBus(config_);
  ASSERT_OK(bus->SetErrorCallback([&](const Status& s) {
    errors.signal.Update([&] { errors.messages.push_back(s.message()); });
  }));
  ASSERT_OK(bus->SetConnectionCallback([&](const ConnectionEvent& e) {
    signal.Update([&] {
      EXPECT_EQ(e.transport, "nats");
      EXPECT_EQ(e.connected, e.reason.ok()) << e.reason.ToString();
      states.push_back(e.connected);
    });
  }));
  ASSERT_OK(bus->Subscribe(topic, [&](const Record&, const Delivery&) {
    signal.Update([&] { ++handled; });
    return Status();
  }));
  ASSERT_OK(bus->Start());
  Record r;
  r.topic = topic;
  r.payload = "before";
  ASSERT_OK(bus->Publish(r));
  ASSERT_TRUE(signal.WaitUntil([&] { return handled == 1; }));

  ASSERT_TRUE(server_.Restart());
  ASSERT_TRUE(signal.WaitUntil([&] { return states.size() >= 2 && states.back(); }, 30s))
      << "states seen: " << states.size();
  {
    std::lock_guard<std::mutex> lock(signal.mutex());
    EXPECT_FALSE(states.front()) << "first a disconnect";
  }
  {
    std::lock_guard<std::mutex> lock(errors.signal.mutex());
    EXPECT_TRUE(errors.Saw("disconnected from " + server_.url()));
    EXPECT_TRUE(errors.Saw("reconnected to"));
  }
  Census census = TakeCensus();
  size_t cnats_of_bus = 0;
  for (const ThreadInfo& t : census.threads) {
    EXPECT_NE(t.component, "unknown") << "tid " << t.tid << " " << t.name << "\n"
                                      << census.ToTable();
    if (t.component == "cnats" && t.bus_id == bus->id()) ++cnats_of_bus;
  }
  EXPECT_GE(cnats_of_bus, 2u) << "the new reader and the subscriptions' delivery threads\n"
                              << census.ToTable();
  EXPECT_TRUE(bus->health().connected);

  r.payload = "after";
  ASSERT_OK(bus->Publish(r));
  ASSERT_TRUE(signal.WaitUntil([&] { return handled >= 2; }, 30s)) << "subscription survived";
  Result<CloseReport> report = bus->Close();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->bus_threads_after_close, 0u) << report->ToString();
}

// Close(timeout) returns by its deadline with the server gone, whether it
// stopped before Close, during it (while a handler held the drain), and says
// what it could not acknowledge; no thread is left (the fixture's T1).
TEST_F(NatsRestartTest, CloseWithTheServerStoppedBeforeOrDuringCloseReturnsByItsDeadline) {
  for (const bool during : {false, true}) {
    SCOPED_TRACE(during ? "stopped during close" : "stopped before close");
    ASSERT_TRUE(server_.Up());
    Config config = config_;
    config.subscriber.commit_interval = 60s;  // everything handled waits for the final ack
    const std::string topic = unique_ + (during ? "-during" : "-before");
    Signal gate;
    bool server_gone = false;
    int handled = 0;
    auto consumer = NewBus(config);
    ASSERT_NE(consumer, nullptr);
    ASSERT_OK(consumer->SetErrorCallback([](const Status&) {}));  // expected: server down
    ASSERT_OK(consumer->Subscribe(topic, [&](const Record& r, const Delivery&) {
      if (during && r.key == "k0") gate.WaitUntil([&] { return server_gone; }, 60s);
      gate.Update([&] { ++handled; });
      return Status();
    }));
    ASSERT_OK(consumer->Start());
    {
      auto producer = NewBus(config);
      ASSERT_NE(producer, nullptr);
      for (int i = 0; i < 20; ++i) {
        Record r;
        r.topic = topic;
        r.key = "k" + std::to_string(i % 4);
        ASSERT_OK(producer->Publish(std::move(r)));
      }
      ASSERT_TRUE(producer->Close().ok());
    }
    ASSERT_TRUE(gate.WaitUntil([&] { return handled >= (during ? 15 : 20); }, 60s)) << handled;

    const auto timeout = during ? 8s : 3s;
    const auto start = std::chrono::steady_clock::now();
    std::optional<Result<CloseReport>> closed;
    if (during) {
      std::thread closer([&] { closed.emplace(consumer->Close(timeout)); });
      ASSERT_TRUE(Eventually([&] { return consumer->health().state == BusState::kDraining; }, 10s));
      ASSERT_TRUE(server_.Down());
      gate.Update([&] { server_gone = true; });
      closer.join();
    } else {
      ASSERT_TRUE(server_.Down());
      closed.emplace(consumer->Close(timeout));
    }
    const auto took = std::chrono::steady_clock::now() - start;
    ASSERT_TRUE(closed.has_value() && closed->ok());
    const CloseReport& report = closed->value();
    std::printf(
        "nats close, server %s: %lld ms; %s\n", during ? "stopped during close" : "down",
        static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()),
        report.ToString().c_str());
    EXPECT_LE(took, timeout) << report.ToString();
    EXPECT_FALSE(report.status.ok()) << report.ToString();
    EXPECT_GT(report.partitions_uncommitted, 0u) << report.ToString();
    EXPECT_EQ(report.bus_threads_after_close, 0u);
  }
}

// The lease stream is in memory: a restarted server has lost every lease
// while their holders still read their partitions. A member that makes the
// stream again must not claim those partitions until the holders have let
// go, or two members read one partition at once and a key's later version
// is handled before its earlier one (the chaos suite's NATS order fault).
// Deleting the stream stands for the restart.
TEST_F(NatsRestartTest, LeasesLostWithTheServerAreNotClaimedWhileTheirHolderStillReads) {
  using transport::nats::Leases;
  const std::vector<std::string> topics = {unique_};
  constexpr int32_t kPartitions = 2;
  transport::nats::NatsSession session_x(config_, 0), session_y(config_, 0);
  transport::nats::SessionPin pin_x(session_x), pin_y(session_y);
  ASSERT_OK(session_x.Connect());
  ASSERT_OK(session_y.Connect());
  Leases x(session_x, unique_, "x"), y(session_y, unique_, "y");
  const transport::TopicPartition p0{unique_, 0}, p1{unique_, 1};
  auto owners = [&](const transport::TopicPartition& tp) { return x.Owns(tp) + y.Owns(tp); };
  // Alone, x claims both (once the new lease stream is older than a lease).
  ASSERT_TRUE(Eventually(
      [&] {
        EXPECT_TRUE(x.Step(topics, kPartitions).ok());
        return x.Owns(p0) && x.Owns(p1);
      },
      20s));

  ASSERT_EQ(js_DeleteStream(session_y.js(), "EVBUS_LEASES", nullptr, nullptr), NATS_OK);
  Result<Leases::Plan> plan = y.Step(topics, kPartitions);  // makes the stream again
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_TRUE(plan->gained.empty()) << "claimed a partition x still reads";
  plan = x.Step(topics, kPartitions);  // x's refresh finds its leases gone
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->lost.size(), 2u);
  // Then the two share the partitions, never both owning one.
  ASSERT_TRUE(Eventually(
      [&] {
        EXPECT_TRUE(x.Step(topics, kPartitions).ok());
        EXPECT_TRUE(y.Step(topics, kPartitions).ok());
        EXPECT_LE(owners(p0), 1);
        EXPECT_LE(owners(p1), 1);
        return owners(p0) == 1 && owners(p1) == 1 && x.Owns(p0) != x.Owns(p1);
      },
      20s));

  // A holder that cannot write its leases lets them go after kLeaseValid on
  // its own clock, before the server's copy (kLeaseTtl) expires for others.
  const bool x_had_p0 = x.Owns(p0);
  EXPECT_TRUE(x.Lapsed(transport::Clock::now()).empty());
  const std::vector<transport::TopicPartition> lapsed =
      x.Lapsed(transport::Clock::now() + transport::nats::kLeaseValid);
  ASSERT_EQ(lapsed.size(), 1u);
  EXPECT_EQ(lapsed[0], x_had_p0 ? p0 : p1);
  EXPECT_FALSE(x.Owns(p0) || x.Owns(p1));
  y.Leave(transport::Clock::now() + 5s);
}

// Never reachable: publishing and subscribing fail by address (see
// NatsSetupFailureTest.UnreachableServerFailsByAddress); Close is immediate.
TEST_F(NatsTest, BusWhoseServerWasNeverReachableClosesByTheDeadline) {
  Config config = config_;
  config.nats.urls = {"nats://127.0.0.1:" + std::to_string(FreePort())};
  config.nats.connect_timeout = 500ms;
  auto bus = NewBus(config);
  ASSERT_NE(bus, nullptr);
  ASSERT_OK(bus->Subscribe(unique_, [](const Record&, const Delivery&) { return Status(); }));
  EXPECT_EQ(bus->Start().code(), ErrorCode::kUnavailable);
  const auto start = std::chrono::steady_clock::now();
  Result<CloseReport> report = bus->Close(2s);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(report.ok());
  EXPECT_LE(took, 2s) << report->ToString();
  EXPECT_EQ(report->bus_threads_after_close, 0u);
}

}  // namespace
}  // namespace evbus::test
