// `evbus pub --header K=V --partition N` and the trace ids `evbus sub` shows,
// run as a program: on memory through `evbus script`, on Kafka and NATS
// across processes.

#include <gtest/gtest.h>

#include <vector>

#include "cli_support.h"
#include "test_support.h"

namespace evbus::test {
namespace {

constexpr char kTraceparent[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TEST(CliPublishOptions, HeadersAndPartitionReachSubWhichShowsTheTraceId) {
  CliRun r =
      RunCli("script", std::string("pub orders --aggregate order-1 --partition 3 --header "
                                   "traceparent=") +
                           kTraceparent +
                           " --header tenant=eu '{\"payload\":{\"total\":3}}'\n"
                           "pub orders --raw --key k1 --partition 1 --header source=cli hello\n"
                           "sub orders --count 2 --timeout 10 --format json\n"
                           "sub orders --count 2 --timeout 10\n");
  ASSERT_EQ(r.code, 0) << r.out;
  std::vector<std::string> lines = JsonLines(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out;
  std::string envelope, raw;
  for (const std::string& line : lines)
    (line.find("order-1") != std::string::npos ? envelope : raw) = line;
  EXPECT_NE(envelope.find("\"partition\":3,"), std::string::npos) << envelope;
  EXPECT_NE(envelope.find("{\"key\":\"tenant\",\"value\":\"eu\"}]"), std::string::npos)
      << envelope;  // the last header, after the envelope's own
  EXPECT_NE(envelope.find("\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\""), std::string::npos)
      << envelope;
  EXPECT_NE(raw.find("\"partition\":1,"), std::string::npos) << raw;
  EXPECT_NE(raw.find("{\"key\":\"source\",\"value\":\"cli\"}"), std::string::npos) << raw;
  EXPECT_EQ(raw.find("trace_id"), std::string::npos) << raw;  // none without a traceparent
  // Text: one "trace" line, for the record that has one.
  EXPECT_NE(r.out.find("\n  trace 4bf92f3577b34da6a3ce929d0e0e4736\n"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("  trace "), r.out.rfind("  trace ")) << r.out;
}

TEST(CliPublishOptions, APartitionOutOfRangeExits1NamingIt) {
  CliRun r = RunCli("script", "pub orders --aggregate a-1 --partition 99 '{\"payload\":1}'\n");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("partition 99 is out of range"), std::string::npos) << r.out;
}

TEST(CliPublishOptions, BadFlagsExit2NamingThem) {
  for (const char* args : {"pub orders --header novalue --aggregate a '{\"payload\":1}'",
                           "pub orders --header =v --aggregate a '{\"payload\":1}'",
                           "pub orders --partition -1 --aggregate a '{\"payload\":1}'"}) {
    CliRun r = RunCli(args);
    EXPECT_EQ(r.code, 2) << args << "\n" << r.out;
    const std::string flag = std::string(args).substr(std::string(args).find("--"));
    EXPECT_NE(r.out.find(flag.substr(0, flag.find(' '))), std::string::npos) << args << "\n"
                                                                             << r.out;
  }
}

// Kafka and NATS keep records between processes: pub and sub run apart.
void PartitionAndTraceAcrossProcesses(const std::string& connection) {
  const std::string topic = UniqueName("cli-pubopts");
  CliRun pub = RunCli("pub " + topic + " --aggregate a-1 --partition 2 --header traceparent=" +
                          kTraceparent + " " + connection,
                      "{\"payload\":{\"n\":1}}\n");
  ASSERT_EQ(pub.code, 0) << pub.out;
  EXPECT_NE(pub.out.find("partition 2 offset"), std::string::npos) << pub.out;
  CliRun sub = RunCli("sub " + topic + " --count 1 --timeout 30 --format json " + connection);
  ASSERT_EQ(sub.code, 0) << sub.out;
  std::vector<std::string> lines = JsonLines(sub.out);
  ASSERT_EQ(lines.size(), 1u) << sub.out;
  EXPECT_NE(lines[0].find("\"partition\":2,"), std::string::npos) << sub.out;
  EXPECT_NE(lines[0].find("\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\""), std::string::npos)
      << sub.out;
}

TEST(CliPublishOptions, PartitionAndTraceOnKafka) {
  const char* brokers = std::getenv("EVBUS_KAFKA_BROKERS");
  if (brokers == nullptr) GTEST_SKIP() << "EVBUS_KAFKA_BROKERS is not set";
  PartitionAndTraceAcrossProcesses(std::string("--brokers ") + brokers);
}

TEST(CliPublishOptions, PartitionAndTraceOnNats) {
  const char* url = std::getenv("EVBUS_NATS_URL");
  if (url == nullptr) GTEST_SKIP() << "EVBUS_NATS_URL is not set";
  PartitionAndTraceAcrossProcesses(std::string("--url ") + url);
}

}  // namespace
}  // namespace evbus::test
