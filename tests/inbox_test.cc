// The idempotent inbox on SQLite and PostgreSQL: a redelivered event runs its
// handler's side effects once; a failed handler leaves neither its effects
// nor its key; envelopes without an event id are keyed by the fallback.

#include "evbus/inbox.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>

#include "evbus/event_bus.h"
#include "outbox_support.h"
#include "test_support.h"

namespace evbus::test {
namespace {

class InboxTest : public DatabaseTest {
 protected:
  void SetUp() override {
    DatabaseTest::SetUp();
    if (!db_) return;  // skipped
    app_->Exec("CREATE TABLE side_effects (event_key TEXT NOT NULL, amount INTEGER NOT NULL)");
    topic_ = UniqueName("payments");
    config_ = MemoryConfig(UniqueName("inbox"));
  }

  std::unique_ptr<Inbox> OpenInbox(const std::string& group = "billing") {
    auto inbox = Inbox::Open({.database = db_->url(), .consumer_group = group});
    EXPECT_TRUE(inbox.ok()) << inbox.status().ToString();
    return inbox.ok() ? std::move(inbox).value() : nullptr;
  }

  // The side effect a handler applies in its transaction.
  static void Apply(Transaction& tx, const Envelope& e) {
    AppConnection::ExecOn(tx, "INSERT INTO side_effects VALUES ('" + Inbox::KeyOf(e) + "', 1)");
  }

  int64_t SideEffects() { return app_->QueryInt("SELECT count(*) FROM side_effects"); }

  std::string topic_;
  Config config_;
};

TEST_P(InboxTest, ARedeliveredEventRunsItsSideEffectsOnce) {
  auto inbox = OpenInbox();
  ASSERT_NE(inbox, nullptr);
  std::atomic<int> calls{0};
  auto bus = EventBus::Create(config_);
  ASSERT_TRUE(bus.ok());
  ASSERT_OK((*bus)->SubscribeEnvelope(
      topic_, inbox->Wrap([&](const Envelope& e, const Delivery&, Transaction& tx) {
        ++calls;
        Apply(tx, e);
        return Status::Ok();
      })));
  ASSERT_OK((*bus)->Start());
  // Ten events, each published three times: what an outbox relay's crash
  // (or a producer retry) does to a consumer.
  for (int i = 0; i < 10; ++i) {
    const Envelope e = NewEnvelope("payment-" + std::to_string(i), "PaymentTaken", 1, "{}");
    for (int copy = 0; copy < 3; ++copy) ASSERT_OK((*bus)->PublishEnvelope(topic_, e));
  }
  ASSERT_TRUE(Eventually([&] { return inbox->stats().handled + inbox->stats().duplicates == 30; }));
  ASSERT_OK((*bus)->Close().status());
  EXPECT_EQ(SideEffects(), 10);
  EXPECT_EQ(calls.load(), 10);
  EXPECT_EQ(inbox->stats().handled, 10u);
  EXPECT_EQ(inbox->stats().duplicates, 20u);
  EXPECT_EQ(app_->QueryInt("SELECT count(*) FROM evbus_inbox WHERE consumer_group = 'billing'"),
            10);
}

TEST_P(InboxTest, AFailedHandlerLeavesNeitherItsEffectsNorItsKey) {
  auto inbox = OpenInbox();
  ASSERT_NE(inbox, nullptr);
  std::atomic<int> calls{0};
  auto bus = EventBus::Create(config_);
  ASSERT_TRUE(bus.ok());
  ASSERT_OK((*bus)->SubscribeEnvelope(
      topic_, inbox->Wrap([&](const Envelope& e, const Delivery& d, Transaction& tx) -> Status {
        ++calls;
        Apply(tx, e);  // written, then undone with the failure
        if (d.attempt == 1) return Status(ErrorCode::kUnavailable, "downstream busy");
        if (d.attempt == 2) throw std::runtime_error("handler threw");
        return Status::Ok();
      })));
  ASSERT_OK((*bus)->Start());
  ASSERT_OK((*bus)->PublishEnvelope(topic_, NewEnvelope("payment-1", "PaymentTaken", 1, "{}")));
  ASSERT_TRUE(Eventually([&] { return inbox->stats().handled == 1; }));
  ASSERT_OK((*bus)->Close().status());
  EXPECT_EQ(calls.load(), 3);
  EXPECT_EQ(SideEffects(), 1);
  EXPECT_EQ(inbox->stats().failed, 2u);
}

TEST_P(InboxTest, GroupsAreIndependent) {
  auto billing = OpenInbox("billing");
  auto shipping = OpenInbox("shipping");
  ASSERT_NE(billing, nullptr);
  ASSERT_NE(shipping, nullptr);
  auto bus = EventBus::Create(config_);
  ASSERT_TRUE(bus.ok());
  auto apply = [&](const Envelope& e, const Delivery&, Transaction& tx) {
    Apply(tx, e);
    return Status::Ok();
  };
  ASSERT_OK((*bus)->SubscribeEnvelope(topic_, billing->Wrap(apply)));
  ASSERT_OK((*bus)->SubscribeEnvelope(topic_ + "-copy", shipping->Wrap(apply)));
  ASSERT_OK((*bus)->Start());
  const Envelope e = NewEnvelope("payment-1", "PaymentTaken", 1, "{}");
  ASSERT_OK((*bus)->PublishEnvelope(topic_, e));
  ASSERT_OK((*bus)->PublishEnvelope(topic_ + "-copy", e));
  ASSERT_TRUE(
      Eventually([&] { return billing->stats().handled + shipping->stats().handled == 2; }));
  ASSERT_OK((*bus)->Close().status());
  EXPECT_EQ(SideEffects(), 2);  // the same event, once per group
}

TEST_P(InboxTest, EnvelopesWithoutAnEventIdAreKeyedByTheirContent) {
  Envelope seed = NewEnvelope("order-7", "OrderPlaced", 3, "{}");
  seed.event_id.clear();  // jxt-core before bf8ec78 sent none
  seed.timestamp = *ParseRfc3339("2025-10-13T20:25:08.406123+08:00");
  EXPECT_EQ(Inbox::KeyOf(seed), "~order-7/3/OrderPlaced/2025-10-13T20:25:08.406123+08:00");
  Envelope with_id = seed;
  with_id.event_id = "0193a0c4-0000-7000-8000-000000000001";
  EXPECT_EQ(Inbox::KeyOf(with_id), with_id.event_id);

  auto inbox = OpenInbox();
  ASSERT_NE(inbox, nullptr);
  auto bus = EventBus::Create(config_);
  ASSERT_TRUE(bus.ok());
  ASSERT_OK((*bus)->SubscribeEnvelope(
      topic_, inbox->Wrap([&](const Envelope& e, const Delivery&, Transaction& tx) {
        Apply(tx, e);
        return Status::Ok();
      })));
  ASSERT_OK((*bus)->Start());
  // Seed-generation records (no event_id on the wire), twice.
  Result<std::string> wire = EncodeEnvelope(seed, PayloadFormat::kRawJson, WireGeneration::kSeed);
  ASSERT_TRUE(wire.ok()) << wire.status().ToString();
  for (int copy = 0; copy < 2; ++copy) {
    Record r;
    r.topic = topic_;
    r.key = seed.aggregate_id;
    r.payload = *wire;
    ASSERT_OK((*bus)->Publish(std::move(r)));
  }
  ASSERT_TRUE(Eventually([&] { return inbox->stats().handled + inbox->stats().duplicates == 2; }));
  ASSERT_OK((*bus)->Close().status());
  EXPECT_EQ(SideEffects(), 1);
  EXPECT_EQ(inbox->stats().duplicates, 1u);
}

TEST_P(InboxTest, OptionsAreCheckedByName) {
  auto no_group = Inbox::Open({.database = db_->url()});
  EXPECT_EQ(no_group.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(no_group.status().message().find("consumer_group"), std::string::npos);
  auto bad_url = Inbox::Open({.database = "sqlite", .consumer_group = "g"});
  EXPECT_EQ(bad_url.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(bad_url.status().message().find("'sqlite'"), std::string::npos)
      << bad_url.status().ToString();
}

INSTANTIATE_TEST_SUITE_P(Databases, InboxTest, ::testing::Values("sqlite", "postgres"));

}  // namespace
}  // namespace evbus::test
