// ReadGroupLag and `evbus lag`: a group's lag per partition read from the
// broker itself, before and after the group consumes; on every transport of
// the conformance suite (memory refuses: its broker is in-process).

#include <cstdio>

#include "conformance.h"
#include "transport/transport.h"

namespace evbus::test {
namespace {

class OpsLagTest : public ConformanceTest {};

int64_t TotalLag(const std::vector<GroupPartitionLag>& lags) {
  int64_t total = 0;
  for (const GroupPartitionLag& l : lags) total += l.lag;
  return total;
}

// Runs the evbus CLI; returns its standard output.
std::string RunCli(const std::string& args) {
  std::string out;
  if (FILE* p = ::popen((std::string(EVBUS_CLI_PATH) + " " + args + " 2>&1").c_str(), "r")) {
    char buf[512];
    while (std::fgets(buf, sizeof(buf), p) != nullptr) out += buf;
    ::pclose(p);
  }
  return out;
}

TEST_P(OpsLagTest, GroupLagFromTheBrokerBeforeAndAfterConsuming) {
  Config config = MakeConfig();
  const std::string topic = Topic("lag");
  const std::string group = config.subscriber.group;
  if (GetParam() == "memory") {
    Result<std::vector<GroupPartitionLag>> lags = ReadGroupLag(config, group, {topic});
    EXPECT_EQ(lags.status().code(), ErrorCode::kInvalidArgument);
    return;
  }
  {
    Result<std::unique_ptr<transport::Transport>> t = transport::CreateTransport(config, 0);
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    ASSERT_OK((*t)->EnsureTopic(topic));
  }
  constexpr int kRecords = 10;
  {
    auto publisher = NewBus(config);
    for (int i = 0; i < kRecords; ++i) {
      Record r;
      r.topic = topic;
      r.key = "k" + std::to_string(i);
      r.payload = "x";
      ASSERT_OK(publisher->Publish(r));
    }
    ASSERT_TRUE(publisher->Close().ok());  // flushed: all stored
  }
  Result<std::vector<GroupPartitionLag>> before = ReadGroupLag(config, group, {topic});
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  EXPECT_EQ(before->size(), static_cast<size_t>(partitions()));
  EXPECT_EQ(TotalLag(*before), kRecords);
  for (const GroupPartitionLag& l : *before) EXPECT_EQ(l.committed, -1) << l.partition;

  std::atomic<int> handled{0};
  {
    auto consumer = NewBus(config);
    ASSERT_OK(consumer->Subscribe(topic, [&](const Record&, const Delivery&) {
      ++handled;
      return Status();
    }));
    ASSERT_OK(consumer->Start());
    ASSERT_TRUE(Eventually([&] { return handled == kRecords; }));
    ASSERT_TRUE(consumer->Close().ok());  // commits the frontier
  }
  Result<std::vector<GroupPartitionLag>> after = ReadGroupLag(config, group, {topic});
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_EQ(TotalLag(*after), 0);
  int64_t stored = 0;
  for (const GroupPartitionLag& l : *after) {
    EXPECT_EQ(l.topic, topic);
    if (l.committed >= 0) {
      EXPECT_EQ(l.committed, l.log_end) << l.partition;
    }
    stored += l.log_end;
  }
  EXPECT_EQ(stored, kRecords);

  const std::string where = config.transport == TransportKind::kKafka
                                ? "--brokers " + config.kafka.brokers.front()
                                : "--url " + config.nats.urls.front();
  const std::string out = RunCli("lag " + where + " --group " + group + " " + topic);
  EXPECT_NE(out.find("total lag 0 over " + std::to_string(partitions()) + " partition(s)"),
            std::string::npos)
      << out;
  if (config.transport == TransportKind::kKafka) {
    // Without topics, Kafka lists what the group committed.
    Result<std::vector<GroupPartitionLag>> all = ReadGroupLag(config, group, {});
    ASSERT_TRUE(all.ok()) << all.status().ToString();
    EXPECT_FALSE(all->empty());
    for (const GroupPartitionLag& l : *all) EXPECT_EQ(l.topic, topic);
  } else {
    EXPECT_EQ(ReadGroupLag(config, group, {}).status().code(), ErrorCode::kInvalidArgument);
  }
}

std::vector<std::string> TransportNames() {
  std::vector<std::string> names;
  for (const TransportUnderTest& t : ConformanceTransports()) names.push_back(t.name);
  return names;
}

INSTANTIATE_TEST_SUITE_P(Transports, OpsLagTest, ::testing::ValuesIn(TransportNames()),
                         [](const ::testing::TestParamInfo<std::string>& param) {
                           return param.param;
                         });

}  // namespace
}  // namespace evbus::test
