// The conformance fixture: a transport under test supplies configs and a way
// to read committed offsets; every test gets fresh topics and a fresh group.

#ifndef EVBUS_TESTS_CONFORMANCE_H_
#define EVBUS_TESTS_CONFORMANCE_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "test_support.h"

namespace evbus::test {

struct TransportUnderTest {
  std::string name;
  int partitions = 4;
  // A config for a fresh bus; `unique` names this test's broker/namespace.
  std::function<Config(const std::string& unique)> make_config;
  // The committed offset of config.subscriber.group on topic[partition], -1 if none.
  std::function<int64_t(const Config&, const std::string& topic, int32_t partition)> committed;
  // Empty when the transport can run here; otherwise why it is skipped
  // (in CI every transport must run: .ci/run starts the servers).
  std::function<std::string()> unavailable;
};

// Transports register themselves (memory always; Kafka/NATS in their files).
std::vector<TransportUnderTest>& ConformanceTransports();
bool RegisterConformanceTransport(TransportUnderTest t);

class ConformanceTest : public BusTest, public ::testing::WithParamInterface<std::string> {
 protected:
  void SetUp() override;
  void TearDown() override;

  Config MakeConfig() const { return config_; }
  // A new bus. Declare what its handlers touch before it, so the bus closes
  // (when it goes out of scope) before that state is destroyed; TearDown then
  // checks T1.
  std::unique_ptr<EventBus> NewBus(const Config& config);
  std::string Topic(const std::string& base) const { return unique_ + "-" + base; }
  int partitions() const { return transport_->partitions; }
  int64_t CommittedOffset(const Config& config, const std::string& topic, int32_t p) const {
    return transport_->committed(config, topic, p);
  }

 private:
  const TransportUnderTest* transport_ = nullptr;
  std::string unique_;
  Config config_;
};

}  // namespace evbus::test

#endif  // EVBUS_TESTS_CONFORMANCE_H_
