// The transactional outbox and its relay on SQLite and PostgreSQL, with the
// memory transport: what commits is published once, in per-aggregate order;
// what rolls back is not; a row that keeps failing goes dead, holds back its
// aggregate and comes back with a retry; the schema migrates.

#include "evbus/outbox.h"

#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "evbus/event_bus.h"
#include "fault_transport.h"
#include "outbox/store.h"
#include "outbox_support.h"
#include "test_support.h"
#include "transport/memory/memory_transport.h"

namespace evbus::test {
namespace {

// What a subscriber received: each aggregate's event versions in arrival order.
class Received {
 public:
  EnvelopeHandler Handler() {
    return [this](const Envelope& e, const Delivery&) {
      signal_.Update([&] {
        versions_[e.aggregate_id].push_back(e.event_version);
        ++total_;
      });
      return Status::Ok();
    };
  }
  bool WaitForTotal(size_t n, std::chrono::milliseconds timeout = 30s) {
    return signal_.WaitUntil([&] { return total_ >= n; }, timeout);
  }
  size_t total() {
    std::lock_guard lock(signal_.mutex());
    return total_;
  }
  std::map<std::string, std::vector<int64_t>> versions() {
    std::lock_guard lock(signal_.mutex());
    return versions_;
  }

 private:
  Signal signal_;
  std::map<std::string, std::vector<int64_t>> versions_;
  size_t total_ = 0;
};

// Each aggregate's versions arrived as 1, 2, 3, ... `per_aggregate`.
void ExpectInOrderOnce(const std::map<std::string, std::vector<int64_t>>& got, size_t aggregates,
                       int64_t per_aggregate) {
  ASSERT_EQ(got.size(), aggregates);
  for (const auto& [aggregate, versions] : got) {
    std::vector<int64_t> want(static_cast<size_t>(per_aggregate));
    for (int64_t v = 1; v <= per_aggregate; ++v) want[static_cast<size_t>(v - 1)] = v;
    EXPECT_EQ(versions, want) << aggregate;
  }
}

Envelope Event(const std::string& aggregate, int64_t version) {
  return NewEnvelope(aggregate, "OrderChanged", version,
                     R"({"version":)" + std::to_string(version) + "}");
}

class OutboxTest : public DatabaseTest {
 protected:
  void SetUp() override {
    DatabaseTest::SetUp();
    if (!db_) return;  // skipped
    ASSERT_OK(app_->Migrate());
    topic_ = UniqueName("orders");
    config_ = MemoryConfig(UniqueName("outbox"));
  }

  // Commits `per_aggregate` versions of `aggregates` aggregates, interleaved,
  // `per_tx` rows per transaction.
  void CommitEvents(int aggregates, int per_aggregate, int per_tx = 50) {
    int in_tx = 0;
    for (int v = 1; v <= per_aggregate; ++v) {
      for (int a = 0; a < aggregates; ++a) {
        if (in_tx == 0) app_->Exec("BEGIN");
        ASSERT_OK(app_->Add(topic_, Event("agg-" + std::to_string(a), v)));
        if (++in_tx == per_tx) app_->Exec("COMMIT"), in_tx = 0;
      }
    }
    if (in_tx > 0) app_->Exec("COMMIT");
  }

  // A bus that subscribes `received` to the topic and is started.
  std::unique_ptr<EventBus> StartBus(Received& received, std::unique_ptr<EventBus> bus = nullptr) {
    if (!bus) {
      auto created = EventBus::Create(config_);
      EXPECT_TRUE(created.ok()) << created.status().ToString();
      if (!created.ok()) return nullptr;
      bus = std::move(created).value();
    }
    EXPECT_OK(bus->SubscribeEnvelope(topic_, received.Handler()));
    EXPECT_OK(bus->Start());
    return bus;
  }

  OutboxRelayOptions RelayOptions() {
    OutboxRelayOptions o;
    o.database = db_->url();
    o.batch_size = 64;
    o.poll_interval = 2ms;
    o.status_interval = 20ms;
    o.retry.initial_backoff = 1ms;
    o.retry.max_backoff = 5ms;
    o.retry.max_attempts = 3;
    return o;
  }

  std::unique_ptr<OutboxRelay> StartRelay(EventBus& bus, OutboxRelayOptions o) {
    auto relay = OutboxRelay::Start(bus, std::move(o));
    EXPECT_TRUE(relay.ok()) << relay.status().ToString();
    return relay.ok() ? std::move(relay).value() : nullptr;
  }

  OutboxStatus Rows() {
    Result<OutboxStatus> s = ReadOutboxStatus(db_->url());
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? *s : OutboxStatus{};
  }

  std::string topic_;
  Config config_;
};

TEST_P(OutboxTest, ARolledBackTransactionPublishesNothing) {
  app_->Exec("BEGIN");
  ASSERT_OK(app_->Add(topic_, Event("order-1", 1)));
  app_->Exec("ROLLBACK");
  app_->Exec("BEGIN");
  ASSERT_OK(app_->Add(topic_, Event("order-2", 1)));
  app_->Exec("COMMIT");

  Received received;
  auto bus = StartBus(received);
  ASSERT_NE(bus, nullptr);
  auto relay = StartRelay(*bus, RelayOptions());
  ASSERT_NE(relay, nullptr);
  ASSERT_TRUE(received.WaitForTotal(1));
  ASSERT_TRUE(Eventually([&] { return relay->stats().published == 1; }));
  // Another full round finds nothing: the rolled-back row never existed.
  const uint64_t rounds = relay->stats().rounds;
  ASSERT_TRUE(Eventually([&] { return Rows().pending == 0 && relay->stats().dead_rows == 0; }));
  relay->Close();
  ASSERT_OK(bus->Close().status());
  EXPECT_EQ(received.total(), 1u);
  EXPECT_EQ(received.versions().count("order-1"), 0u);
  EXPECT_EQ(relay->stats().rounds, rounds);
  EXPECT_EQ(Rows().published, 1);
}

TEST_P(OutboxTest, AddWorksOnlyInsideATransactionAndNamesABadField) {
  Status s = app_->Add(topic_, Event("order-1", 1));
  EXPECT_EQ(s.code(), ErrorCode::kFailedPrecondition) << s.ToString();
  EXPECT_NE(s.message().find("no transaction"), std::string::npos) << s.ToString();

  app_->Exec("BEGIN");
  Envelope bad = Event("order-1", 1);
  bad.event_version = 0;
  s = app_->Add(topic_, bad);
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(s.message().find("event_version"), std::string::npos) << s.ToString();
  s = app_->Add("", Event("order-1", 1));
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(s.message().find("topic"), std::string::npos) << s.ToString();
  app_->Exec("ROLLBACK");
  EXPECT_EQ(Rows().pending, 0);
}

TEST_P(OutboxTest, TheRelayPublishesEveryRowOnceInPerAggregateOrder) {
  constexpr int kAggregates = 20, kVersions = 100;
  CommitEvents(kAggregates, kVersions);
  EXPECT_EQ(Rows().pending, kAggregates * kVersions);

  Received received;
  auto bus = StartBus(received);
  ASSERT_NE(bus, nullptr);
  auto relay = StartRelay(*bus, RelayOptions());
  ASSERT_NE(relay, nullptr);
  ASSERT_TRUE(received.WaitForTotal(kAggregates * kVersions, 60s)) << received.total();
  ASSERT_TRUE(Eventually([&] { return Rows().pending == 0; }));
  relay->Close();
  ASSERT_OK(bus->Close().status());
  ExpectInOrderOnce(received.versions(), kAggregates, kVersions);
  EXPECT_EQ(relay->stats().published, uint64_t{kAggregates * kVersions});
  const OutboxStatus st = Rows();
  EXPECT_EQ(st.published, kAggregates * kVersions);
  EXPECT_EQ(st.dead, 0);
  EXPECT_TRUE(relay->health().healthy) << relay->health().detail;
}

TEST_P(OutboxTest, PublishedRowsAreDeletedAfterTheRetention) {
  CommitEvents(5, 10);
  Received received;
  auto bus = StartBus(received);
  ASSERT_NE(bus, nullptr);
  OutboxRelayOptions o = RelayOptions();
  o.retention = 0s;
  auto relay = StartRelay(*bus, o);
  ASSERT_NE(relay, nullptr);
  ASSERT_TRUE(received.WaitForTotal(50));
  ASSERT_TRUE(Eventually([&] {
    const OutboxStatus s = Rows();
    return s.pending == 0 && s.published == 0;
  })) << "published rows kept: "
      << Rows().published;
  EXPECT_EQ(app_->QueryInt("SELECT count(*) FROM evbus_outbox"), 0);
  relay->Close();
  ASSERT_OK(bus->Close().status());
  EXPECT_EQ(relay->stats().deleted, 50u);
}

class OutboxFaultTest : public OutboxTest {
 protected:
  std::unique_ptr<EventBus> NewFaultyBus() {
    auto bus = testing::CreateBusWithTransport(
        config_,
        std::make_unique<FaultTransport>(transport::NewMemoryTransport(config_), switches_));
    EXPECT_TRUE(bus.ok()) << bus.status().ToString();
    return bus.ok() ? std::move(bus).value() : nullptr;
  }
  std::shared_ptr<FaultSwitches> switches_ = std::make_shared<FaultSwitches>();
};

TEST_P(OutboxFaultTest, ARowThatKeepsFailingGoesDeadHoldsBackItsAggregateAndRetryReleasesIt) {
  // order-1's first event goes to a topic whose publishes fail; its second
  // (to the good topic) must wait behind it. order-2 flows meanwhile, so the
  // failures are the row's own, not an outage.
  const std::string failing = topic_ + "-fail";
  app_->Exec("BEGIN");
  ASSERT_OK(app_->Add(failing, Event("order-1", 1)));
  ASSERT_OK(app_->Add(topic_, Event("order-1", 2)));
  for (int v = 1; v <= 200; ++v) ASSERT_OK(app_->Add(topic_, Event("order-2", v)));
  app_->Exec("COMMIT");
  switches_->SetFailSuffix("-fail");

  Received received;
  auto bus = StartBus(received, NewFaultyBus());
  ASSERT_NE(bus, nullptr);
  OutboxRelayOptions o = RelayOptions();
  // Two heads per round: order-1's failing row beside one of order-2's, so
  // the round is not all failures (which would be an outage, not the row).
  o.batch_size = 2;
  auto relay = StartRelay(*bus, o);
  ASSERT_NE(relay, nullptr);
  ASSERT_TRUE(received.WaitForTotal(200));
  // Delivered is not yet marked: the relay settles its round after the acks.
  ASSERT_TRUE(Eventually([&] { return relay->stats().dead_rows == 1 && Rows().pending == 1; }))
      << "pending " << Rows().pending;  // order-1 version 2, held back
  EXPECT_EQ(Rows().dead, 1);
  EXPECT_EQ(relay->stats().went_dead, 1u);
  EXPECT_EQ(switches_->failed_produces.load(), 3);  // max_attempts, then no more
  const OutboxRelayHealth health = relay->health();
  EXPECT_FALSE(health.healthy);
  EXPECT_NE(health.detail.find("1 dead row"), std::string::npos) << health.detail;
  EXPECT_EQ(app_->QueryInt("SELECT count(*) FROM evbus_outbox WHERE state = 2 AND "
                           "last_error LIKE '%injected fault%'"),
            1);
  EXPECT_EQ(received.versions().count("order-1"), 0u) << "version 2 overtook the dead version 1";

  // The operator fixes the cause and retries: both go, in order.
  switches_->SetFailSuffix("");
  Result<int64_t> retried = RetryDeadOutboxRows(db_->url());
  ASSERT_TRUE(retried.ok()) << retried.status().ToString();
  EXPECT_EQ(*retried, 1);
  ASSERT_TRUE(Eventually([&] { return Rows().pending == 0 && Rows().dead == 0; }));
  ASSERT_TRUE(Eventually([&] { return received.versions()["order-1"].size() == 1; }));
  relay->Close();
  ASSERT_OK(bus->Close().status());
  // The retried row went to the (now working) failing topic, which nobody
  // reads here; what matters is that version 2 came only after it.
  EXPECT_EQ(received.versions()["order-1"], std::vector<int64_t>{2});
  Result<int64_t> none = RetryDeadOutboxRows(db_->url(), 12345);
  EXPECT_EQ(none.status().code(), ErrorCode::kNotFound);
  EXPECT_NE(none.status().message().find("12345"), std::string::npos);
}

TEST_P(OutboxFaultTest, AnOutageChargesNoAttemptAndEverythingGoesWhenItEnds) {
  topic_ += "-fail";  // every publish fails until the fault is cleared
  CommitEvents(4, 5);
  switches_->SetFailSuffix("-fail");
  Received received;
  auto bus = StartBus(received, NewFaultyBus());
  ASSERT_NE(bus, nullptr);
  auto relay = StartRelay(*bus, RelayOptions());
  ASSERT_NE(relay, nullptr);
  // Well past max_attempts (3) rounds of failures for every head.
  ASSERT_TRUE(Eventually([&] { return switches_->failed_produces.load() >= 4 * 10; }));
  EXPECT_EQ(Rows().dead, 0);
  EXPECT_EQ(app_->QueryInt("SELECT max(attempts) FROM evbus_outbox"), 0);
  EXPECT_NE(relay->stats().last_error.find("injected fault"), std::string::npos);

  switches_->SetFailSuffix("");
  ASSERT_TRUE(received.WaitForTotal(20));
  relay->Close();
  ASSERT_OK(bus->Close().status());
  ExpectInOrderOnce(received.versions(), 4, 5);
}

TEST_P(OutboxTest, ADatabaseOfSchemaVersion1IsMigratedAndItsRowsPublished) {
  // A fresh database brought only to version 1 (before the inbox), with rows.
  TestDatabase old_db(GetParam());
  {
    Result<std::unique_ptr<outbox::Store>> store = outbox::OpenStore(old_db.url());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    ASSERT_OK((*store)->Migrate(1));
  }
  AppConnection old_app(old_db);
  old_app.Exec("BEGIN");
  for (int v = 1; v <= 3; ++v) ASSERT_OK(old_app.Add(topic_, Event("order-1", v)));
  old_app.Exec("COMMIT");
  Result<OutboxStatus> before = ReadOutboxStatus(old_db.url());
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before->schema_version, 1);
  EXPECT_EQ(before->pending, 3);

  ASSERT_OK(old_app.Migrate());
  ASSERT_OK(old_app.Migrate());  // idempotent
  EXPECT_EQ(old_app.QueryInt("SELECT version FROM evbus_schema"), kOutboxSchemaVersion);
  EXPECT_EQ(old_app.QueryInt("SELECT count(*) FROM evbus_inbox"), 0);

  Received received;
  auto bus = StartBus(received);
  ASSERT_NE(bus, nullptr);
  OutboxRelayOptions o = RelayOptions();
  o.database = old_db.url();
  auto relay = StartRelay(*bus, o);
  ASSERT_NE(relay, nullptr);
  ASSERT_TRUE(received.WaitForTotal(3));
  relay->Close();
  ASSERT_OK(bus->Close().status());
  ExpectInOrderOnce(received.versions(), 1, 3);
}

TEST_P(OutboxTest, ASchemaNewerThanThisEvbusIsRefused) {
  app_->Exec("UPDATE evbus_schema SET version = 99");
  Status s = app_->Migrate();
  EXPECT_EQ(s.code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("version 99"), std::string::npos) << s.ToString();
}

TEST_P(OutboxTest, AnUnknownDatabaseUrlIsRefusedByName) {
  Result<OutboxStatus> s = ReadOutboxStatus("mysql://localhost/x");
  EXPECT_EQ(s.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(s.status().message().find("mysql://localhost/x"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Databases, OutboxTest, ::testing::Values("sqlite", "postgres"));
INSTANTIATE_TEST_SUITE_P(Databases, OutboxFaultTest, ::testing::Values("sqlite", "postgres"));

class OutboxSqliteTest : public OutboxTest {};

TEST_P(OutboxSqliteTest, OneRelayPerDatabaseFile) {
  Received received;
  auto bus = StartBus(received);
  ASSERT_NE(bus, nullptr);
  auto first = StartRelay(*bus, RelayOptions());
  ASSERT_NE(first, nullptr);
  auto second = OutboxRelay::Start(*bus, RelayOptions());
  EXPECT_EQ(second.status().code(), ErrorCode::kAlreadyExists);
  EXPECT_NE(second.status().message().find("another relay"), std::string::npos);
  first->Close();
  first.reset();
  auto third = OutboxRelay::Start(*bus, RelayOptions());  // the lock went with the first
  EXPECT_TRUE(third.ok()) << third.status().ToString();
  if (third.ok()) (*third)->Close();
  ASSERT_OK(bus->Close().status());
}

INSTANTIATE_TEST_SUITE_P(Databases, OutboxSqliteTest, ::testing::Values("sqlite"));

class OutboxPostgresTest : public OutboxTest {};

TEST_P(OutboxPostgresTest, TwoRelaysOnOneDatabaseShareTheWorkAndKeepEachAggregatesOrder) {
  constexpr int kAggregates = 30, kVersions = 60;
  CommitEvents(kAggregates, kVersions);
  Received received;
  auto bus = StartBus(received);
  ASSERT_NE(bus, nullptr);
  // A second bus on the same memory broker: the second relay's own producer.
  auto other = EventBus::Create(config_);
  ASSERT_TRUE(other.ok());
  OutboxRelayOptions o = RelayOptions();
  o.batch_size = 8;  // many small rounds, so the two relays interleave
  auto a = StartRelay(*bus, o);
  auto b = StartRelay(**other, o);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(received.WaitForTotal(kAggregates * kVersions, 60s)) << received.total();
  a->Close();
  b->Close();
  ASSERT_OK((*other)->Close().status());
  ASSERT_OK(bus->Close().status());
  ExpectInOrderOnce(received.versions(), kAggregates, kVersions);
  EXPECT_EQ(a->stats().published + b->stats().published, uint64_t{kAggregates * kVersions});
  EXPECT_GT(a->stats().published, 0u);
  EXPECT_GT(b->stats().published, 0u);
}

INSTANTIATE_TEST_SUITE_P(Databases, OutboxPostgresTest, ::testing::Values("postgres"));

}  // namespace
}  // namespace evbus::test
