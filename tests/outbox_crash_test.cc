// The outbox end to end, on real servers: relay processes (`evbus outbox
// relay`) SIGKILLed mid-batch again and again, and a broker that goes down for
// a while. Nothing committed is lost, each aggregate's events arrive in order
// (a republished event may repeat, never overtake), duplicates stay within a
// round per kill, and the inbox turns them into exactly one side effect each.
// SQLite and PostgreSQL, Kafka and NATS.

#if defined(EVBUS_WITH_KAFKA) && defined(EVBUS_WITH_NATS)

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "evbus/event_bus.h"
#include "evbus/inbox.h"
#include "evbus/outbox.h"
#include "free_port.h"
#include "kafka_support.h"
#include "nats_support.h"
#include "outbox_support.h"
#include "test_support.h"

extern char** environ;

namespace evbus::test {
namespace {

constexpr int kAggregates = 30;
constexpr int kVersions = 100;
constexpr int kEvents = kAggregates * kVersions;

// What the subscriber saw: every delivery (duplicates included) per
// aggregate, in arrival order, and the inbox that absorbs the duplicates.
class Deliveries {
 public:
  // Records the delivery, then runs `inner` (the inbox-wrapped handler).
  EnvelopeHandler Handler(EnvelopeHandler inner) {
    return [this, inner = std::move(inner)](const Envelope& e, const Delivery& d) {
      {
        std::lock_guard lock(mu_);
        versions_[e.aggregate_id].push_back(e.event_version);
        ++total_;
      }
      return inner(e, d);
    };
  }
  size_t total() {
    std::lock_guard lock(mu_);
    return total_;
  }
  // Each aggregate's deliveries are 1..kVersions in order: every delivery
  // is either the next version or a repeat of one already delivered (a relay
  // that died before marking its round publishes that round again), never
  // one that overtakes. Returns how many deliveries were repeats.
  size_t ExpectOrderedWithRepeatsOnly() {
    std::lock_guard lock(mu_);
    size_t repeats = 0;
    EXPECT_EQ(versions_.size(), static_cast<size_t>(kAggregates));
    for (const auto& [aggregate, v] : versions_) {
      int64_t highest = 0;
      for (size_t i = 0; i < v.size(); ++i) {
        if (v[i] <= highest) {
          ++repeats;
        } else {
          EXPECT_EQ(v[i], highest + 1) << aggregate << " at delivery " << i << " overtook";
          highest = v[i];
        }
      }
      EXPECT_EQ(highest, kVersions) << aggregate;
    }
    return repeats;
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::vector<int64_t>> versions_;
  size_t total_ = 0;
};

class OutboxCrashTest : public BusTest,
                        public ::testing::WithParamInterface<std::tuple<std::string, std::string>> {
 protected:
  void SetUp() override {
    BusTest::SetUp();
    const auto& [db, transport] = GetParam();
    if (db == "postgres") {
      if (std::string why = PostgresUnavailable(); !why.empty()) GTEST_SKIP() << why;
    }
    const std::string why = transport == "kafka" ? KafkaUnavailable() : NatsTestUnavailable();
    if (!why.empty()) GTEST_SKIP() << why;
    db_ = std::make_unique<TestDatabase>(db);
    app_ = std::make_unique<AppConnection>(*db_);
    ASSERT_OK(app_->Migrate());
    app_->Exec("CREATE TABLE side_effects (event_key TEXT PRIMARY KEY)");
    unique_ = UniqueName("obx");
    config_ = transport == "kafka" ? KafkaConfig(unique_) : NatsTestConfig(unique_);
    config_.subscriber.group = unique_ + "-group";
    topic_ = unique_ + "-orders";
    dir_ = std::filesystem::temp_directory_path() / unique_;
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    if (!db_) return;
    ExpectThreadsAtBaseline();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  void CommitEvents() {
    for (int v = 1; v <= kVersions; ++v) {
      app_->Exec("BEGIN");
      for (int a = 0; a < kAggregates; ++a) {
        ASSERT_OK(app_->Add(topic_, NewEnvelope("order-" + std::to_string(a), "OrderChanged", v,
                                                "{\"v\":" + std::to_string(v) + "}")));
      }
      app_->Exec("COMMIT");
    }
  }

  // The subscriber: every delivery through `deliveries`, then the inbox.
  std::unique_ptr<EventBus> StartSubscriber(Deliveries& deliveries, Inbox& inbox) {
    auto bus = EventBus::Create(config_);
    EXPECT_TRUE(bus.ok()) << bus.status().ToString();
    if (!bus.ok()) return nullptr;
    EXPECT_OK((*bus)->SubscribeEnvelope(
        topic_,
        deliveries.Handler(inbox.Wrap([](const Envelope& e, const Delivery&, Transaction& tx) {
          AppConnection::ExecOn(tx, "INSERT INTO side_effects VALUES ('" + e.event_id + "')");
          return Status::Ok();
        }))));
    EXPECT_OK((*bus)->Start());
    return std::move(bus).value();
  }

  // `evbus outbox relay` as a process of its own, logging to relay.log.
  pid_t SpawnRelay() {
    const std::string config_path = (dir_ / "relay.yaml").string();
    std::ofstream(config_path) << FormatConfigYaml(config_);
    const std::string log = (dir_ / "relay.log").string();
    std::vector<std::string> args = {EVBUS_CLI_PATH, "outbox",    "relay",    "--config",
                                     config_path,    "--db",      db_->url(), "--batch",
                                     "50",           "--poll-ms", "5"};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    pid_t pid = -1;
    EXPECT_EQ(posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&actions);
    return pid;
  }

  // Waits until the inbox has handled every event, closes the subscriber,
  // and checks what the user cares about: one side effect per event, each
  // aggregate in order (repeats only), every repeat absorbed by the inbox.
  // Returns the repeats.
  size_t ExpectEveryEventOnceThroughTheInbox(Deliveries& deliveries, Inbox& inbox,
                                             EventBus& subscriber, std::chrono::seconds wait) {
    EXPECT_TRUE(Eventually([&] { return inbox.stats().handled == uint64_t{kEvents}; }, wait))
        << "handled " << inbox.stats().handled << " of " << kEvents;
    EXPECT_OK(subscriber.Close().status());
    EXPECT_EQ(app_->QueryInt("SELECT count(*) FROM side_effects"), kEvents);
    const size_t repeats = deliveries.ExpectOrderedWithRepeatsOnly();
    EXPECT_EQ(deliveries.total(), kEvents + repeats);
    EXPECT_EQ(inbox.stats().duplicates, repeats);
    return repeats;
  }

  std::string RelayLog() {
    std::ifstream in(dir_ / "relay.log");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  // How many relays have said they are publishing.
  int Banners() {
    const std::string log = RelayLog();
    int n = 0;
    for (size_t at = log.find(kBanner); at != std::string::npos; at = log.find(kBanner, at + 1)) {
      ++n;
    }
    return n;
  }
  static constexpr const char* kBanner = "evbus outbox relay: publishing ";

  int64_t Pending() {
    Result<OutboxStatus> s = ReadOutboxStatus(db_->url());
    return s.ok() ? s->pending : -1;
  }

  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<AppConnection> app_;
  std::string unique_, topic_;
  Config config_;
  std::filesystem::path dir_;
};

TEST_P(OutboxCrashTest, RelaysKilledMidBatchLoseNothingAndTheInboxAbsorbsTheRepeats) {
  CommitEvents();
  auto inbox = Inbox::Open({.database = db_->url(), .consumer_group = config_.subscriber.group});
  ASSERT_TRUE(inbox.ok()) << inbox.status().ToString();
  Deliveries deliveries;
  auto subscriber = StartSubscriber(deliveries, **inbox);
  ASSERT_NE(subscriber, nullptr);

  // Kill a relay each time it has published a random stretch of rows.
  constexpr int kKills = 5;
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int64_t> stretch(150, 400);
  int kills = 0;
  for (; kills < kKills; ++kills) {
    const int64_t before = Pending();
    const int64_t target = before - stretch(rng);
    if (target <= 0) break;
    const pid_t pid = SpawnRelay();
    ASSERT_GT(pid, 0);
    const bool progressed = Eventually([&] { return Pending() <= target; }, 60s);
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(progressed) << "relay " << kills << " published nothing in 60 s; its log:\n"
                            << RelayLog();
    ASSERT_TRUE(WIFSIGNALED(status));
  }
  // The last relay finishes the job and stops cleanly on SIGTERM.
  const pid_t last = SpawnRelay();
  const bool drained = Eventually([&] { return Pending() == 0; }, 120s);
  // The killed relays may have published every row already, so wait for the
  // last one's banner: a SIGTERM that arrives before the relay has taken over
  // the signal would kill it the default way.
  const bool announced = Eventually([&] { return Banners() == kills + 1; }, 60s);
  kill(last, SIGTERM);
  int status = 0;
  waitpid(last, &status, 0);
  ASSERT_TRUE(drained) << "pending " << Pending() << "; relay log:\n" << RelayLog();
  ASSERT_TRUE(announced) << "the last relay never started; relay log:\n" << RelayLog();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << RelayLog();

  const size_t repeats = ExpectEveryEventOnceThroughTheInbox(deliveries, **inbox, *subscriber, 60s);
  // A killed relay repeats at most the round it was in (--batch 50).
  EXPECT_LE(repeats, static_cast<size_t>(kills * 50));
  Result<OutboxStatus> st = ReadOutboxStatus(db_->url());
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->dead, 0);
  std::printf(
      "outbox crash %s/%s: %d relays killed mid-batch, %d events, %zu delivered twice "
      "(absorbed by the inbox), %lld side effects\n",
      std::get<0>(GetParam()).c_str(), std::get<1>(GetParam()).c_str(), kills, kEvents, repeats,
      static_cast<long long>(app_->QueryInt("SELECT count(*) FROM side_effects")));
}

INSTANTIATE_TEST_SUITE_P(Servers, OutboxCrashTest,
                         ::testing::Combine(::testing::Values("sqlite", "postgres"),
                                            ::testing::Values("kafka", "nats")),
                         [](const auto& p) {
                           return std::get<0>(p.param) +
                                  (std::get<1>(p.param) == "kafka" ? "Kafka" : "Nats");
                         });

// A server of the test's own (scripts/kafka or scripts/nats on free ports;
// NATS with file storage), so that taking it down disturbs no other test.
class OwnServer {
 public:
  explicit OwnServer(std::string transport)
      : transport_(std::move(transport)), port_(FreePort()), second_port_(FreePort()) {}
  ~OwnServer() { (void)Run("down"); }
  // Runs `scripts/<transport> verb`; false (with the output in `out`) if it failed.
  bool Run(const std::string& verb, std::string* out = nullptr) {
    const std::string port = std::to_string(port_), second = std::to_string(second_port_);
    const std::string env =
        transport_ == "kafka"
            ? "EVBUS_KAFKA_PORT=" + port + " EVBUS_KAFKA_CONTROLLER_PORT=" + second
            : "EVBUS_NATS_PORT=" + port + " EVBUS_NATS_MONITOR_PORT=" + second +
                  " EVBUS_NATS_DIR=/tmp/evbus-outbox-nats-" + port;
    const std::string command =
        env + " " EVBUS_SOURCE_DIR "/scripts/" + transport_ + " " + verb + " 2>&1";
    FILE* pipe = popen(command.c_str(), "r");
    if (pipe == nullptr) return false;
    std::string text;
    char buf[512];
    while (fgets(buf, sizeof(buf), pipe) != nullptr) text += buf;
    if (out != nullptr) *out = text;
    return pclose(pipe) == 0;
  }
  // A configuration on this server.
  Config ConfigOn() const {
    Config c;
    if (transport_ == "kafka") {
      c = KafkaConfig("");
      c.kafka.brokers = {"127.0.0.1:" + std::to_string(port_)};
      c.kafka.properties["reconnect.backoff.max.ms"] = "500";  // back within a second
    } else {
      c = NatsTestBaseConfig();
      c.nats.urls = {"nats://127.0.0.1:" + std::to_string(port_)};
      c.nats.storage = "file";
    }
    return c;
  }

 private:
  std::string transport_;
  int port_, second_port_;
};

class OutboxOutageTest : public OutboxCrashTest {};

TEST_P(OutboxOutageTest, WhileTheServerIsDownNothingIsLostOrChargedAndAllGoesWhenItIsBack) {
  OwnServer server(std::get<1>(GetParam()));
  std::string out;
  ASSERT_TRUE(server.Run("up", &out)) << out;
  config_ = server.ConfigOn();
  config_.subscriber.group = unique_ + "-group";
  config_.close_timeout = 20s;
  CommitEvents();
  auto inbox = Inbox::Open({.database = db_->url(), .consumer_group = config_.subscriber.group});
  ASSERT_TRUE(inbox.ok()) << inbox.status().ToString();
  Deliveries deliveries;
  auto subscriber = StartSubscriber(deliveries, **inbox);
  ASSERT_NE(subscriber, nullptr);
  auto publisher = EventBus::Create(config_);
  ASSERT_TRUE(publisher.ok()) << publisher.status().ToString();
  OutboxRelayOptions options;
  options.database = db_->url();
  options.batch_size = 50;
  options.poll_interval = 5ms;
  options.retry.max_attempts = 3;  // an outage must not spend them
  options.retry.max_backoff = 500ms;
  options.ack_timeout = 2s;  // publishes lost with the connection are not waited out
  auto relay = OutboxRelay::Start(**publisher, options);
  ASSERT_TRUE(relay.ok()) << relay.status().ToString();

  ASSERT_TRUE(Eventually([&] { return Pending() <= kEvents - 300; }, 60s));
  ASSERT_TRUE(server.Run("restart 3", &out)) << out;  // down for 3 s, mid-stream
  ASSERT_TRUE(Eventually([&] { return Pending() == 0; }, 120s))
      << "pending " << Pending() << ", last error " << (*relay)->stats().last_error;
  (*relay)->Close();
  ASSERT_OK((*publisher)->Close().status());
  // Everything reached the broker. What this test checks is the relay's
  // side, so the rest is read by a fresh member of the group rather than
  // the one that lived through the outage (on a loaded machine its group
  // membership can take long to recover; the transports' own restart tests
  // cover that). It starts from the group's committed offsets: repeats only.
  (void)subscriber->Close();
  subscriber = StartSubscriber(deliveries, **inbox);
  ASSERT_NE(subscriber, nullptr);
  const size_t repeats = ExpectEveryEventOnceThroughTheInbox(deliveries, **inbox, *subscriber, 90s);
  EXPECT_EQ((*relay)->stats().went_dead, 0u);
  std::printf(
      "outbox outage %s/%s: server down 3 s; %d events, %zu repeats, failed attempts %llu, "
      "last error: %s\n",
      std::get<0>(GetParam()).c_str(), std::get<1>(GetParam()).c_str(), kEvents, repeats,
      static_cast<unsigned long long>((*relay)->stats().failed_attempts),
      (*relay)->stats().last_error.c_str());
}

INSTANTIATE_TEST_SUITE_P(Servers, OutboxOutageTest,
                         ::testing::Combine(::testing::Values("sqlite", "postgres"),
                                            ::testing::Values("kafka", "nats")),
                         [](const auto& p) {
                           return std::get<0>(p.param) +
                                  (std::get<1>(p.param) == "kafka" ? "Kafka" : "Nats");
                         });

}  // namespace
}  // namespace evbus::test

#endif  // EVBUS_WITH_KAFKA && EVBUS_WITH_NATS
