// Dead-letter tooling (ops/dead_letters.h) in-process on the memory broker:
// listing with origin, error, attempts and time; filters; replay to the
// origin or another topic (headers kept, dead-letter ones dropped), dry run,
// failures named; purge; and the transport's group-free read and purge.

#include "ops/dead_letters.h"

#include <set>

#include "dead_letter_support.h"
#include "test_support.h"

namespace evbus::test {
namespace {

class DeadLettersTest : public BusTest {
 protected:
  void SetUp() override {
    BusTest::SetUp();
    config_ = MemoryConfig(UniqueName("dead-letters"));
    UseQuickDeadLetters(config_);
    started_ = std::chrono::system_clock::now();
    auto bus = EventBus::Create(config_);
    ASSERT_TRUE(bus.ok()) << bus.status().ToString();
    bus_ = std::move(bus).value();
    // A transport of its own on the bus's broker (shared by memory.broker).
    auto t = transport::CreateTransport(config_, 0);
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    transport_ = std::move(t).value();
    scenario_.Run(*bus_);
  }
  void TearDown() override {
    if (bus_) {
      EXPECT_TRUE(bus_->Close().ok());
    }
    bus_.reset();
    transport_.reset();
    ExpectThreadsAtBaseline();
  }

  std::vector<ops::DeadLetter> List(const ops::DeadLetterFilter& filter = {}) {
    std::vector<ops::DeadLetter> out;
    Result<int64_t> n =
        ops::ForEachDeadLetter(*transport_, scenario_.dlq(), filter, [&](const ops::DeadLetter& d) {
          out.push_back(d);
          return true;
        });
    EXPECT_TRUE(n.ok()) << n.status().ToString();
    EXPECT_EQ(n.ok() ? *n : -1, static_cast<int64_t>(out.size()));
    return out;
  }

  Config config_;
  ops::SystemTime started_;
  std::unique_ptr<EventBus> bus_;
  std::unique_ptr<transport::Transport> transport_;
  DeadLetterScenario scenario_{"orders"};
};

TEST_F(DeadLettersTest, ListShowsOriginErrorAttemptsTimeAndEvent) {
  const std::vector<ops::DeadLetter> all = List();
  ASSERT_EQ(all.size(), 4u);
  std::vector<Record> origin = ReadAll(*transport_, "orders");
  ASSERT_EQ(origin.size(), 4u);
  std::set<std::string> event_ids;
  for (const ops::DeadLetter& d : all) {
    SCOPED_TRACE(d.record.key);
    EXPECT_EQ(d.record.topic, "orders.dlq");
    EXPECT_EQ(d.origin_topic, "orders");
    // Origin partition and offset point at the failed record itself.
    auto same = std::find_if(origin.begin(), origin.end(), [&](const Record& r) {
      return r.partition == d.origin_partition && r.offset == d.origin_offset;
    });
    ASSERT_NE(same, origin.end());
    EXPECT_EQ(same->key, d.record.key);
    EXPECT_EQ(same->payload, d.record.payload);
    EXPECT_EQ(d.attempts, 2);
    EXPECT_NE(d.error.find(d.record.key.starts_with("billing") ? "billing down" : "bad address"),
              std::string::npos)
        << d.error;
    EXPECT_GE(d.failed_at, started_ - std::chrono::seconds(1));  // X-Failed-At has ms or better
    EXPECT_LE(d.failed_at, std::chrono::system_clock::now());
    if (d.record.key.starts_with("billing")) {
      EXPECT_EQ(d.event_type, "InvoiceDue");
      event_ids.insert(d.event_id);
    } else {
      EXPECT_TRUE(d.event_id.empty());
    }
  }
  EXPECT_EQ(event_ids,
            std::set<std::string>(scenario_.event_ids().begin(), scenario_.event_ids().end()));
}

TEST_F(DeadLettersTest, FiltersByErrorTextOrRegexTimeAndLimit) {
  const auto now = std::chrono::system_clock::now();
  auto count = [&](const ops::DeadLetterFilter& f) { return List(f).size(); };
  EXPECT_EQ(count(ops::DeadLetterFilter::Make("billing", {}, {}, 0)), 3u);
  EXPECT_EQ(count(ops::DeadLetterFilter::Make("bad (address|zip)", {}, {}, 0)), 1u);
  EXPECT_EQ(count(ops::DeadLetterFilter::Make("no such error", {}, {}, 0)), 0u);
  // Not a valid expression: taken as plain text.
  EXPECT_EQ(count(ops::DeadLetterFilter::Make("down (", {}, {}, 0)), 0u);
  EXPECT_EQ(count(ops::DeadLetterFilter::Make("HandlerFailed: billing", {}, {}, 0)), 3u);
  EXPECT_EQ(count(ops::DeadLetterFilter::Make("", started_ - std::chrono::minutes(1), {}, 0)), 4u);
  EXPECT_EQ(count(ops::DeadLetterFilter::Make("", now + std::chrono::minutes(1), {}, 0)), 0u);
  EXPECT_EQ(count(ops::DeadLetterFilter::Make("", {}, started_ - std::chrono::minutes(1), 0)), 0u);
  EXPECT_EQ(count(ops::DeadLetterFilter::Make("", {}, {}, 2)), 2u);
  EXPECT_EQ(count(ops::DeadLetterFilter::Make("billing", {}, {}, 2)), 2u);
}

TEST_F(DeadLettersTest, TimeBoundsAreRfc3339OrADurationAgoAndBadOnesAreNamed) {
  const ops::SystemTime now = std::chrono::system_clock::now();
  Result<ops::SystemTime> at = ops::ParseTimeBound("--since", "2025-06-01T12:00:00Z", now);
  ASSERT_TRUE(at.ok()) << at.status().ToString();
  EXPECT_EQ(
      FormatRfc3339(Timestamp{std::chrono::time_point_cast<std::chrono::nanoseconds>(*at), 0}),
      "2025-06-01T12:00:00Z");
  Result<ops::SystemTime> ago = ops::ParseTimeBound("--since", "1h30m", now);
  ASSERT_TRUE(ago.ok()) << ago.status().ToString();
  EXPECT_EQ(now - *ago, std::chrono::minutes(90));
  for (const char* bad : {"yesterday", "5", "-1h", ""}) {
    Result<ops::SystemTime> r = ops::ParseTimeBound("--until", bad, now);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("--until: \"" + std::string(bad) + "\""), std::string::npos)
        << r.status().ToString();
  }
}

TEST_F(DeadLettersTest, DryRunNamesEachAndPublishesNothing) {
  ops::ReplayOptions options;
  options.dry_run = true;
  std::vector<std::string> targets;
  options.on_each = [&](const ops::DeadLetter&, const std::string& target) {
    targets.push_back(target);
  };
  Result<ops::ReplayReport> report = ops::ReplayDeadLetters(*transport_, "orders.dlq", options);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->matched, 4);
  EXPECT_EQ(report->published, 0);
  EXPECT_EQ(report->failed, 0);
  EXPECT_EQ(targets, std::vector<std::string>(4, "orders"));
  EXPECT_EQ(ReadAll(*transport_, "orders").size(), 4u) << "a dry run published";
}

TEST_F(DeadLettersTest, ReplayBringsMatchingOnesBackToTheOriginOnceEach) {
  scenario_.Fix();
  ops::ReplayOptions options;
  options.filter = ops::DeadLetterFilter::Make("billing", {}, {}, 0);
  Result<ops::ReplayReport> report = ops::ReplayDeadLetters(*transport_, "orders.dlq", options);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->matched, 3);
  EXPECT_EQ(report->published, 3);
  EXPECT_EQ(report->failed, 0);
  ASSERT_TRUE(scenario_.WaitHandled(3));
  ASSERT_TRUE(bus_->Close().ok());  // drains: anything more would have arrived
  const std::map<std::string, int> expected = {
      {"billing-1", 1}, {"billing-2", 1}, {"billing-3", 1}};
  EXPECT_EQ(scenario_.handled(), expected);
  EXPECT_EQ(List().size(), 4u) << "replay does not remove dead letters";
}

TEST_F(DeadLettersTest, ReplayToAnotherTopicKeepsHeadersButTheDeadLetterOnes) {
  ops::ReplayOptions options;
  options.to = "orders-retry";
  options.filter = ops::DeadLetterFilter::Make("address", {}, {}, 0);
  Result<ops::ReplayReport> report = ops::ReplayDeadLetters(*transport_, "orders.dlq", options);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->published, 1);
  std::vector<Record> replayed = ReadAll(*transport_, "orders-retry");
  ASSERT_EQ(replayed.size(), 1u);
  EXPECT_EQ(replayed[0].key, "address-1");
  EXPECT_EQ(replayed[0].payload, "not an envelope");
  EXPECT_EQ(replayed[0].headers, (Headers{{"traceparent", kTraceparent}}));
  // An envelope keeps its X-Event-* headers.
  options.filter = ops::DeadLetterFilter::Make("billing", {}, {}, 1);
  ASSERT_TRUE(ops::ReplayDeadLetters(*transport_, "orders.dlq", options).ok());
  replayed = ReadAll(*transport_, "orders-retry");
  ASSERT_EQ(replayed.size(), 2u);
  const Record& envelope = replayed[0].key == "address-1" ? replayed[1] : replayed[0];
  EXPECT_TRUE(FindHeader(envelope.headers, "X-Event-ID").has_value());
  EXPECT_EQ(FindHeader(envelope.headers, "X-Event-Type").value_or(""), "InvoiceDue");
  for (std::string_view h : ops::kDeadLetterHeaders) {
    EXPECT_FALSE(FindHeader(envelope.headers, h).has_value()) << h;
  }
}

TEST_F(DeadLettersTest, ADeadLetterWithNowhereToGoFailsByName) {
  auto producer = transport_->CreateProducer();
  ASSERT_TRUE(producer.ok());
  Record stray;
  stray.topic = "orders.dlq";
  stray.key = "stray";
  stray.payload = "x";
  int32_t partition = -1;
  int64_t offset = -1;
  ASSERT_OK((*producer)->Produce(std::move(stray), [&](const Status&, int32_t p, int64_t o) {
    partition = p;
    offset = o;
  }));
  (*producer)->Close(transport::Clock::now());
  Result<ops::ReplayReport> report = ops::ReplayDeadLetters(*transport_, "orders.dlq", {});
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->matched, 5);
  EXPECT_EQ(report->published, 4);
  EXPECT_EQ(report->failed, 1);
  ASSERT_EQ(report->failures.size(), 1u);
  EXPECT_EQ(report->failures[0], "orders.dlq[" + std::to_string(partition) + "]@" +
                                     std::to_string(offset) +
                                     ": no X-Original-Topic header; name a topic with --to");
}

TEST_F(DeadLettersTest, PurgeRemovesWhatIsThereAndLaterOnesAreKept) {
  Result<int64_t> purged = transport_->PurgeTopic("orders.dlq");
  ASSERT_TRUE(purged.ok()) << purged.status().ToString();
  EXPECT_EQ(*purged, 4);
  EXPECT_TRUE(List().empty());
  EXPECT_EQ(ReadAll(*transport_, "orders").size(), 4u) << "purge touched the origin topic";
  // A later dead letter is listed, at an offset after the purged ones.
  ASSERT_OK(bus_->Publish(Record{"orders", "billing-9", {}, "late", -1, -1, {}}));
  ASSERT_TRUE(Eventually([&] { return bus_->stats().dead_lettered == 5; }));
  const std::vector<ops::DeadLetter> later = List();
  ASSERT_EQ(later.size(), 1u);
  EXPECT_EQ(later[0].record.key, "billing-9");
  Result<int64_t> again = transport_->PurgeTopic("orders.dlq");
  EXPECT_EQ(again.ok() ? *again : -1, 1);
}

TEST_F(DeadLettersTest, AMissingTopicIsNamed) {
  Result<int64_t> n = ops::ForEachDeadLetter(*transport_, "nosuch.dlq", {},
                                             [](const ops::DeadLetter&) { return true; });
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.status().code(), ErrorCode::kNotFound);
  EXPECT_NE(n.status().message().find("nosuch.dlq"), std::string::npos);
  Result<int64_t> purged = transport_->PurgeTopic("nosuch.dlq");
  ASSERT_FALSE(purged.ok());
  EXPECT_NE(purged.status().message().find("nosuch.dlq"), std::string::npos);
}

}  // namespace
}  // namespace evbus::test
