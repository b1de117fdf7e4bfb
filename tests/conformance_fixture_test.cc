// The conformance fixture and the memory transport's registration.

#include "conformance.h"
#include "transport/memory/memory_broker.h"

namespace evbus::test {

std::vector<TransportUnderTest>& ConformanceTransports() {
  static std::vector<TransportUnderTest> transports;
  return transports;
}

bool RegisterConformanceTransport(TransportUnderTest t) {
  ConformanceTransports().push_back(std::move(t));
  return true;
}

void ConformanceTest::SetUp() {
  BusTest::SetUp();
  for (const TransportUnderTest& t : ConformanceTransports()) {
    if (t.name == GetParam()) transport_ = &t;
  }
  ASSERT_NE(transport_, nullptr);
  if (transport_->unavailable) {
    const std::string why = transport_->unavailable();
    if (!why.empty()) GTEST_SKIP() << why;
  }
  unique_ = UniqueName(transport_->name);
  config_ = transport_->make_config(unique_);
  config_.subscriber.group = unique_ + "-group";
}

void ConformanceTest::TearDown() {
  ExpectThreadsAtBaseline();  // T1: the test's buses closed as it ended; no sleep
}

std::unique_ptr<EventBus> ConformanceTest::NewBus(const Config& config) {
  Result<std::unique_ptr<EventBus>> bus = EventBus::Create(config);
  EXPECT_TRUE(bus.ok()) << bus.status().ToString();
  if (!bus.ok()) return nullptr;
  return std::move(bus).value();
}

namespace {

const bool kMemoryRegistered = RegisterConformanceTransport(
    TransportUnderTest{"memory", 4, [](const std::string& unique) { return MemoryConfig(unique); },
                       [](const Config& config, const std::string& topic, int32_t partition) {
                         auto broker = transport::MemoryBroker::Named(config.memory.broker, {});
                         return broker->Committed(config.subscriber.group, {topic, partition});
                       },
                       nullptr});

std::vector<std::string> TransportNames() {
  std::vector<std::string> names;
  for (const TransportUnderTest& t : ConformanceTransports()) names.push_back(t.name);
  return names;
}

}  // namespace

INSTANTIATE_TEST_SUITE_P(Transports, ConformanceTest, ::testing::ValuesIn(TransportNames()),
                         [](const ::testing::TestParamInfo<std::string>& param) {
                           return param.param;
                         });

}  // namespace evbus::test
