// FaultTransport: wraps a real transport and injects faults through atomic
// switches (like leveldb's SpecialEnv over a real Env). The memory broker
// underneath stays real. FaultBusTest is the fixture for tests over it.

#ifndef EVBUS_TESTS_FAULT_TRANSPORT_H_
#define EVBUS_TESTS_FAULT_TRANSPORT_H_

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <string>

#include "core/testing.h"
#include "test_support.h"
#include "transport/memory/memory_transport.h"
#include "transport/transport.h"

namespace evbus::test {

struct FaultSwitches {
  // Produce to a topic ending with this suffix completes with Unavailable.
  std::mutex mu;
  std::string fail_topic_suffix;
  std::atomic<int> failed_produces{0};
  // Completions are held (not delivered) until released or the producer closes.
  std::atomic<bool> hold_completions{false};

  void SetFailSuffix(std::string s) {
    std::lock_guard<std::mutex> lock(mu);
    fail_topic_suffix = std::move(s);
  }
  bool ShouldFail(const std::string& topic) {
    std::lock_guard<std::mutex> lock(mu);
    return !fail_topic_suffix.empty() && topic.size() >= fail_topic_suffix.size() &&
           topic.compare(topic.size() - fail_topic_suffix.size(), std::string::npos,
                         fail_topic_suffix) == 0;
  }
};

class FaultProducer final : public transport::Producer {
 public:
  FaultProducer(std::unique_ptr<transport::Producer> inner, std::shared_ptr<FaultSwitches> sw)
      : inner_(std::move(inner)), sw_(std::move(sw)) {}
  ~FaultProducer() override { Close(transport::Clock::now()); }

  Status Produce(Record&& record, transport::DeliveryCallback done) override {
    if (sw_->ShouldFail(record.topic)) {
      sw_->failed_produces.fetch_add(1);
      done(Status(ErrorCode::kUnavailable, "injected fault: produce to " + record.topic), -1, -1);
      return Status();
    }
    if (sw_->hold_completions.load()) {
      std::lock_guard<std::mutex> lock(mu_);
      held_.push_back(std::move(done));
      return Status();  // accepted, never stored: completes with Closed on close
    }
    return inner_->Produce(std::move(record), std::move(done));
  }
  Status Flush(transport::Clock::time_point deadline) override { return inner_->Flush(deadline); }
  void Close(transport::Clock::time_point deadline) override {
    std::deque<transport::DeliveryCallback> held;
    {
      std::lock_guard<std::mutex> lock(mu_);
      held.swap(held_);
    }
    for (auto& done : held) done(Status(ErrorCode::kClosed, "producer closed"), -1, -1);
    inner_->Close(deadline);
  }

 private:
  std::unique_ptr<transport::Producer> inner_;
  std::shared_ptr<FaultSwitches> sw_;
  std::mutex mu_;
  std::deque<transport::DeliveryCallback> held_;
};

class FaultTransport final : public transport::Transport {
 public:
  FaultTransport(std::unique_ptr<transport::Transport> inner, std::shared_ptr<FaultSwitches> sw)
      : inner_(std::move(inner)), sw_(std::move(sw)) {}
  std::string_view name() const override { return inner_->name(); }
  Result<std::unique_ptr<transport::Producer>> CreateProducer() override {
    Result<std::unique_ptr<transport::Producer>> p = inner_->CreateProducer();
    if (!p.ok()) return p.status();
    return std::unique_ptr<transport::Producer>(new FaultProducer(std::move(p).value(), sw_));
  }
  Result<std::unique_ptr<transport::Consumer>> CreateConsumer(const std::string& group) override {
    return inner_->CreateConsumer(group);
  }
  Status EnsureTopic(const std::string& topic) override { return inner_->EnsureTopic(topic); }
  Result<transport::TopicInfo> DescribeTopic(const std::string& topic) override {
    return inner_->DescribeTopic(topic);
  }
  bool connected() const override { return inner_->connected(); }

 private:
  std::unique_ptr<transport::Transport> inner_;
  std::shared_ptr<FaultSwitches> sw_;
};

// A test whose buses run on the memory broker wrapped in a FaultTransport,
// all sharing switches_; checks T1 after each test.
class FaultBusTest : public BusTest {
 protected:
  std::unique_ptr<EventBus> NewFaultyBus(const Config& config) {
    auto bus = testing::CreateBusWithTransport(
        config, std::make_unique<FaultTransport>(transport::NewMemoryTransport(config), switches_));
    EXPECT_TRUE(bus.ok()) << bus.status().ToString();
    return bus.ok() ? std::move(bus).value() : nullptr;
  }
  void TearDown() override { ExpectThreadsAtBaseline(); }

  std::shared_ptr<FaultSwitches> switches_ = std::make_shared<FaultSwitches>();
};

}  // namespace evbus::test

#endif  // EVBUS_TESTS_FAULT_TRANSPORT_H_
