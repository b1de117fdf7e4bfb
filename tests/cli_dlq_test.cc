// `evbus dlq` as a program: usage errors that name the bad value, a memory
// round trip through `evbus script`, and on Kafka and NATS the whole story: a
// bus dead-letters records; `list` shows them with origin, error and
// attempts; a dry run publishes nothing; `replay` brings them back (to
// another topic, filtered by error; to the origin, where the now-fixed
// handler gets each once); `purge` refuses without --yes, then empties the
// topic; and no consumer group or durable is left behind.

#include <simdjson.h>

#include <set>

#include "cli_support.h"
#include "dead_letter_support.h"
#include "test_support.h"
#ifdef EVBUS_WITH_KAFKA
#include "kafka_support.h"
#include "transport/kafka/kafka_common.h"
#endif
#ifdef EVBUS_WITH_NATS
#include "nats_support.h"
#include "transport/nats/nats_common.h"
#include "transport/nats/nats_session.h"
#endif

namespace evbus::test {
namespace {

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(CliDlqUsage, BadValuesExit2AndNameTheFlagAndValue) {
  for (const auto& [args, named] : std::vector<std::pair<std::string, std::string>>{
           {"dlq list orders.dlq --since yesterday", "--since: \"yesterday\""},
           {"dlq replay orders.dlq --until 5", "--until: \"5\""},
           {"dlq replay orders.dlq --since 10m --until 1h", "--since 10m is not before --until 1h"},
           {"dlq replay orders.dlq --limit -3", "--limit"},
           {"dlq list", "topic"},
           {"dlq", "a command is required: list, replay or purge"},
           {"dlq trim orders.dlq", "unknown command \"trim\""}}) {
    CliRun r = RunCli(args);
    EXPECT_EQ(r.code, 2) << args << "\n" << r.out;
    EXPECT_NE(r.out.find(named), std::string::npos) << args << "\n" << r.out;
  }
}

TEST(CliDlqUsage, BadConfigExits2AndNamesTheKey) {
  const std::string bad = TempFile("cli-dlq-config", "subscriber:\n  window: 0\n");
  for (const char* command :
       {"dlq list orders.dlq", "dlq replay orders.dlq --dry-run", "dlq purge orders.dlq --yes"}) {
    CliRun r = RunCli(std::string(command) + " --config " + bad);
    EXPECT_EQ(r.code, 2) << command << "\n" << r.out;
    EXPECT_NE(r.out.find("subscriber.window"), std::string::npos) << command << "\n" << r.out;
  }
}

TEST(CliDlqUsage, EveryCommandHasHelpWithExamples) {
  for (const char* command : {"dlq", "dlq list", "dlq replay", "dlq purge"}) {
    CliRun r = RunCli(std::string(command) + " --help");
    EXPECT_EQ(r.code, 0) << command;
    EXPECT_NE(r.out.find("Examples:"), std::string::npos) << command << "\n" << r.out;
  }
}

TEST(CliDlqUsage, AMissingTopicExits1ByName) {
  for (const char* args : {"dlq list nosuch.dlq", "dlq replay nosuch.dlq", "dlq purge nosuch.dlq",
                           "dlq purge nosuch.dlq --yes"}) {
    CliRun r = RunCli(args);
    EXPECT_EQ(r.code, 1) << args << "\n" << r.out;
    EXPECT_NE(r.out.find("nosuch.dlq does not exist"), std::string::npos) << args << "\n" << r.out;
  }
}

// Dead letters written by hand (the memory broker lives in one process).
const char kHandMadeDeadLetters[] =
    "pub orders.dlq --raw --key order-1 --header X-Original-Topic=orders "
    "--header X-Original-Partition=2 --header X-Original-Offset=17 "
    "--header 'X-Error=HandlerFailed: billing down' --header X-Attempts=3 "
    "--header X-Failed-At=2025-06-01T12:00:00Z --header traceparent=00-abc-01 '{\"total\":3}'\n"
    "pub orders.dlq --raw --key order-2 --header X-Original-Topic=orders "
    "--header 'X-Error=Timeout: slow' --header X-Attempts=5 x\n";

TEST(CliDlqMemory, ListReplayPurgeThroughScript) {
  CliRun r = RunCli("script", std::string(kHandMadeDeadLetters) +
                                  "dlq list orders.dlq --json\n"
                                  "dlq replay orders.dlq --dry-run\n"
                                  "dlq replay orders.dlq --error billing\n"
                                  "sub orders --count 1 --timeout 10 --format json\n"
                                  "dlq purge orders.dlq --yes\n"
                                  "dlq list orders.dlq\n");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("\"origin_topic\":\"orders\",\"origin_partition\":2,\"origin_offset\":17,"
                       "\"error\":\"HandlerFailed: billing down\",\"attempts\":3,"
                       "\"failed_at\":\"2025-06-01T12:00:00Z\",\"key\":\"order-1\""),
            std::string::npos)
      << r.out;
  EXPECT_EQ(Count(r.out, "would replay orders.dlq["), 2u) << r.out;
  EXPECT_NE(r.out.find("dry run: 2 dead letter(s) of orders.dlq would be replayed"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("replayed 1 of 1 dead letter(s) from orders.dlq to their origin topics"),
            std::string::npos)
      << r.out;
  // The replayed record: its headers without the dead-letter ones.
  EXPECT_NE(r.out.find("\"key\":\"order-1\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"headers\":[{\"key\":\"traceparent\",\"value\":\"00-abc-01\"}]"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("purged 2 record(s) from orders.dlq"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("0 dead letter(s) in orders.dlq"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("ETA"), std::string::npos) << "progress line with stderr not a terminal";
}

TEST(CliDlqMemory, PurgeWithoutYesSaysWhatItWouldDeleteAndDeletesNothing) {
  CliRun r = RunCli("script", std::string(kHandMadeDeadLetters) + "dlq purge orders.dlq\n");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("would delete 2 record(s) from orders.dlq"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("add --yes"), std::string::npos) << r.out;
}

class CliDlqServerTest : public BusTest {
 protected:
  void TearDown() override { ExpectThreadsAtBaseline(); }

  // The whole story against a server: `flags` reach it from the CLI, `env`
  // sets what the test's config sets differently; `leftovers(dlq)` names any
  // consumer group or durable reading the dead-letter topic (empty: none).
  void ListReplayPurge(Config config, const std::string& flags, const std::string& env,
                       const std::function<std::string(const std::string&)>& leftovers) {
    UseQuickDeadLetters(config);
    DeadLetterScenario scenario(UniqueName("dlq-cli"));
    const std::string& topic = scenario.topic();
    const std::string dlq = scenario.dlq();
    const std::string other = topic + "-retry";
    auto t = transport::CreateTransport(config, 0);
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    auto cli = [&](const std::string& args) { return RunCli(args + " " + flags, "", env); };
    {
      auto bus = EventBus::Create(config);
      ASSERT_TRUE(bus.ok()) << bus.status().ToString();
      scenario.Run(**bus);
      if (HasFatalFailure()) return;

      CliRun list = cli("dlq list " + dlq + " --json --since 1h");
      ASSERT_EQ(list.code, 0) << list.out;
      const std::vector<std::string> lines = JsonLines(list.out);
      ASSERT_EQ(lines.size(), 4u) << list.out;
      simdjson::ondemand::parser parser;
      std::set<std::string> event_ids;
      for (const std::string& line : lines) {
        simdjson::padded_string padded(line);
        simdjson::ondemand::document doc = parser.iterate(padded);
        EXPECT_EQ(std::string_view(doc["origin_topic"].get_string()), topic) << line;
        EXPECT_GE(doc["origin_offset"].get_int64().value(), 0) << line;
        const std::string error(std::string_view(doc["error"].get_string()));
        const std::string key(std::string_view(doc["key"].get_string()));
        EXPECT_NE(error.find(key.starts_with("billing") ? "billing down" : "bad address"),
                  std::string::npos)
            << line;
        EXPECT_EQ(doc["attempts"].get_int64().value(), 2) << line;
        EXPECT_TRUE(ParseRfc3339(std::string_view(doc["failed_at"].get_string())).ok()) << line;
        const std::string id(std::string_view(doc["event_id"].get_string()));
        if (!id.empty()) event_ids.insert(id);
      }
      EXPECT_EQ(event_ids,
                std::set<std::string>(scenario.event_ids().begin(), scenario.event_ids().end()));

      CliRun first = cli("dlq list " + dlq + " --limit 2");  // stops reading early
      ASSERT_EQ(first.code, 0) << first.out;
      EXPECT_NE(first.out.find("2 dead letter(s) in " + dlq), std::string::npos) << first.out;

      CliRun dry = cli("dlq replay " + dlq + " --dry-run");
      ASSERT_EQ(dry.code, 0) << dry.out;
      EXPECT_EQ(Count(dry.out, "would replay " + dlq), 4u) << dry.out;
      EXPECT_EQ(ReadAll(**t, topic).size(), 4u) << "the dry run published";

      scenario.Fix();
      CliRun to = cli("dlq replay " + dlq + " --to " + other + " --error 'bad (address|zip)'");
      ASSERT_EQ(to.code, 0) << to.out;
      EXPECT_NE(to.out.find("replayed 1 of 1"), std::string::npos) << to.out;
      const std::vector<Record> moved = ReadAll(**t, other);
      ASSERT_EQ(moved.size(), 1u);
      EXPECT_EQ(moved[0].key, "address-1");
      EXPECT_EQ(moved[0].payload, "not an envelope");
      EXPECT_EQ(FindHeader(moved[0].headers, "traceparent").value_or(""), kTraceparent);
      EXPECT_FALSE(FindHeader(moved[0].headers, "X-Error").has_value());
      EXPECT_FALSE(FindHeader(moved[0].headers, "X-Original-Topic").has_value());

      CliRun back = cli("dlq replay " + dlq + " --error billing");
      ASSERT_EQ(back.code, 0) << back.out;
      EXPECT_NE(back.out.find("replayed 3 of 3"), std::string::npos) << back.out;
      EXPECT_TRUE(scenario.WaitHandled(3));

      CliRun refused = cli("dlq purge " + dlq);
      EXPECT_EQ(refused.code, 2) << refused.out;
      EXPECT_NE(refused.out.find("would delete 4 record(s)"), std::string::npos) << refused.out;
      EXPECT_EQ(ReadAll(**t, dlq).size(), 4u) << "purge without --yes deleted";
      CliRun purged = cli("dlq purge " + dlq + " --yes");
      ASSERT_EQ(purged.code, 0) << purged.out;
      EXPECT_NE(purged.out.find("purged 4 record(s)"), std::string::npos) << purged.out;
      CliRun empty = cli("dlq list " + dlq);
      ASSERT_EQ(empty.code, 0) << empty.out;
      EXPECT_NE(empty.out.find("0 dead letter(s) in " + dlq), std::string::npos) << empty.out;

      ASSERT_TRUE((*bus)->Close().ok());  // drains: a duplicate would have arrived by now
    }
    const std::map<std::string, int> once = {{"billing-1", 1}, {"billing-2", 1}, {"billing-3", 1}};
    EXPECT_EQ(scenario.handled(), once);
    EXPECT_EQ(leftovers(dlq), "");
  }
};

#ifdef EVBUS_WITH_KAFKA
// Every consumer group on the broker.
std::set<std::string> KafkaGroups(const Config& config) {
  transport::kafka::KafkaShared shared;
  auto h = transport::kafka::NewHandle(config, transport::kafka::Role::kAdmin, &shared, 0);
  EXPECT_TRUE(h.ok()) << h.status().ToString();
  std::set<std::string> out;
  if (!h.ok()) return out;
  transport::kafka::QueuePtr queue(rd_kafka_queue_new(h->get()));
  rd_kafka_ListConsumerGroups(h->get(), nullptr, queue.get());
  transport::kafka::EventPtr event(rd_kafka_queue_poll(queue.get(), 10'000));
  EXPECT_TRUE(event != nullptr && rd_kafka_event_error(event.get()) == RD_KAFKA_RESP_ERR_NO_ERROR);
  if (!event) return out;
  size_t n = 0;
  const rd_kafka_ConsumerGroupListing_t** groups = rd_kafka_ListConsumerGroups_result_valid(
      rd_kafka_event_ListConsumerGroups_result(event.get()), &n);
  for (size_t i = 0; i < n; ++i) out.insert(rd_kafka_ConsumerGroupListing_group_id(groups[i]));
  return out;
}

// The groups among `groups` with committed offsets on `topic`.
std::string KafkaGroupsReading(const Config& config, const std::set<std::string>& groups,
                               const std::string& topic) {
  std::string found;
  for (const std::string& group : groups) {
    Result<std::vector<GroupPartitionLag>> lags = ReadGroupLag(config, group, {});
    if (!lags.ok()) continue;  // no offsets at all
    for (const GroupPartitionLag& l : *lags) {
      if (l.topic == topic && found.find(group) == std::string::npos) found += group + " ";
    }
  }
  return found;
}

TEST_F(CliDlqServerTest, ListReplayPurgeOnKafka) {
  if (std::string why = KafkaUnavailable(); !why.empty()) GTEST_SKIP() << why;
  Config config = KafkaConfig("");
  config.subscriber.group = UniqueName("dlq-cli-group");
  const std::set<std::string> before = KafkaGroups(config);
  ListReplayPurge(config, "--brokers " + Brokers(), "EVBUS_KAFKA_TOPIC_PARTITIONS=4",
                  [&](const std::string& dlq) {
                    std::set<std::string> added;
                    for (const std::string& g : KafkaGroups(config)) {
                      if (before.count(g) == 0) added.insert(g);
                    }
                    return KafkaGroupsReading(config, added, dlq);
                  });
}
#endif

#ifdef EVBUS_WITH_NATS
// The consumers on the streams of `topic`, by stream ("" when none).
std::string NatsConsumersOn(const Config& config, const std::string& topic) {
  transport::nats::NatsSession session(config, 0);
  transport::nats::SessionPin pin(session);
  EXPECT_OK(session.Connect());
  std::string found;
  for (int32_t p = 0; p < transport::nats::Partitions(config.nats); ++p) {
    const std::string stream = transport::nats::StreamName(config.nats, topic, p);
    jsStreamInfo* info = nullptr;
    if (js_GetStreamInfo(&info, session.js(), stream.c_str(), nullptr, nullptr) != NATS_OK) {
      found += stream + " (no stream) ";
      continue;
    }
    if (info->State.Consumers != 0) {
      found += stream + " has " + std::to_string(info->State.Consumers) + " consumer(s) ";
    }
    jsStreamInfo_Destroy(info);
  }
  return found;
}

TEST_F(CliDlqServerTest, ListReplayPurgeOnNats) {
  if (std::string why = NatsTestUnavailable(); !why.empty()) GTEST_SKIP() << why;
  Config config = NatsTestConfig("");
  config.subscriber.group = UniqueName("dlq-cli-group");
  ListReplayPurge(config, "--url " + NatsTestUrl(), "EVBUS_NATS_STORAGE=memory",
                  [&](const std::string& dlq) { return NatsConsumersOn(config, dlq); });
}
#endif

}  // namespace
}  // namespace evbus::test
