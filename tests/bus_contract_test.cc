// Promises of event_bus.h that no other suite covers: every callback setter
// behaves alike (works before Start, FailedPrecondition after), and a bus
// destroyed on one of its own handler threads neither crashes nor hangs.

#include <malloc.h>

#include <cstdio>

#include "test_support.h"

namespace evbus::test {
namespace {

class BusContractTest : public BusTest {
 protected:
  void TearDown() override { ExpectThreadsAtBaseline(); }
};

// Calls every setter of `bus` with a no-op callback; returns their statuses.
std::vector<std::pair<std::string, Status>> SetEveryCallback(EventBus& bus) {
  return {
      {"error", bus.SetErrorCallback([](const Status&) {})},
      {"publish result", bus.SetPublishResultCallback([](const PublishResult&) {})},
      {"connection", bus.SetConnectionCallback([](const ConnectionEvent&) {})},
      {"backlog", bus.SetBacklogCallback([](const BacklogState&) {})},
      {"health alert", bus.SetHealthAlertCallback([](const HealthAlert&) {})},
  };
}

// event_bus.h: Create() starts no engine thread; on memory, none at all.
// (Kafka's client threads after Create: KafkaTest.LibrdkafkaThreadsAreInTheCensus...)
TEST_F(BusContractTest, CreateStartsNoThreadOnMemoryAndStartOnlyWithSubscriptions) {
  auto bus = EventBus::Create(MemoryConfig(UniqueName("create-threads")));
  ASSERT_TRUE(bus.ok());
  EXPECT_EQ(CountProcessThreads(), baseline_threads_);
  EXPECT_EQ(TakeCensus().CountForBus((*bus)->id()), 0u);
  ASSERT_OK((*bus)->Start());  // publish-only: still none
  EXPECT_EQ(TakeCensus().CountForBus((*bus)->id()), 0u);
  ASSERT_TRUE((*bus)->Close().ok());
}

TEST_F(BusContractTest, EverySetterWorksBeforeStartAndFailsAfter) {
  auto bus = EventBus::Create(MemoryConfig(UniqueName("setters")));
  ASSERT_TRUE(bus.ok());
  for (const auto& [name, status] : SetEveryCallback(**bus)) {
    EXPECT_TRUE(status.ok()) << name << ": " << status.ToString();
  }
  ASSERT_OK((*bus)->Subscribe("t", [](const Record&, const Delivery&) { return Status(); }));
  ASSERT_OK((*bus)->Start());
  for (const auto& [name, status] : SetEveryCallback(**bus)) {
    EXPECT_EQ(status.code(), ErrorCode::kFailedPrecondition) << name;
    EXPECT_NE(status.message().find("the " + name + " callback must be set before Start()"),
              std::string::npos)
        << status.ToString();
  }
  ASSERT_TRUE((*bus)->Close().ok());
  for (const auto& [name, status] : SetEveryCallback(**bus)) {
    EXPECT_EQ(status.code(), ErrorCode::kFailedPrecondition) << name << " after Close";
  }
}

TEST_F(BusContractTest, OnAPublishOnlyBusTheFirstPublishIsTheLastChanceForReportCallbacks) {
  auto bus = EventBus::Create(MemoryConfig(UniqueName("setters-publish")));
  ASSERT_TRUE(bus.ok());
  Record r;
  r.topic = "t";
  ASSERT_OK((*bus)->Publish(r));
  // The held transport reports went out with the first publish.
  EXPECT_EQ((*bus)->SetErrorCallback([](const Status&) {}).code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ((*bus)->SetConnectionCallback([](const ConnectionEvent&) {}).code(),
            ErrorCode::kFailedPrecondition);
  EXPECT_EQ((*bus)->SetPublishResultCallback([](const PublishResult&) {}).code(),
            ErrorCode::kFailedPrecondition);
  // Still before Start(): these take effect when it runs.
  EXPECT_OK((*bus)->SetBacklogCallback([](const BacklogState&) {}));
  EXPECT_OK((*bus)->SetHealthAlertCallback([](const HealthAlert&) {}));
  ASSERT_TRUE((*bus)->Close().ok());
}

TEST_F(BusContractTest, DestroyedFromItsOwnHandlerClosesOnAReaperThread) {
  auto created = EventBus::Create(MemoryConfig(UniqueName("self-destroy")));
  ASSERT_TRUE(created.ok());
  std::unique_ptr<EventBus> bus = std::move(created).value();
  const uint64_t id = bus->id();
  // The records are in before Start(); the first handler call takes the bus
  // once Start() has returned (no other thread may be inside the bus while it
  // is destroyed), and the test thread does not touch it after that.
  for (int i = 0; i < 10; ++i) {
    Record r;
    r.topic = "t";
    r.key = "k" + std::to_string(i);
    ASSERT_OK(bus->Publish(std::move(r)));
  }
  Signal signal;
  bool started = false, destroyed = false;
  std::chrono::steady_clock::duration destroy_took{};
  ASSERT_OK(bus->Subscribe("t", [&](const Record&, const Delivery&) {
    std::unique_ptr<EventBus> mine;
    EXPECT_TRUE(signal.WaitUntil([&] { return started; }));
    signal.Update([&] { mine = std::move(bus); });
    if (mine) {  // the first message destroys the bus, on this handler's thread
      const auto start = std::chrono::steady_clock::now();
      mine.reset();  // must return: it cannot wait for the thread it runs on
      signal.Update([&] {
        destroy_took = std::chrono::steady_clock::now() - start;
        destroyed = true;
      });
    }
    return Status();
  }));
  ASSERT_OK(bus->Start());
  signal.Update([&] { started = true; });
  ASSERT_TRUE(signal.WaitUntil([&] { return destroyed; }));
  EXPECT_LT(destroy_took, 1s);
  // The reaper closes the bus once the handler has returned, and ends.
  EXPECT_TRUE(Eventually([&] {
    return TakeCensus().CountForBus(id) == 0 && CountProcessThreads() == baseline_threads_;
  })) << TakeCensus().ToTable();
}

// Heap bytes malloc has handed out and not had back (in-use chunks plus
// mmapped blocks): what a leak grows, unlike the RSS, which also holds what
// the allocator keeps for reuse.
size_t HeapInUse() {
  const struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;
}

// One create -> subscribe -> start -> publish and handle -> close cycle.
void OneCycle(const Config& config, int events) {
  auto bus = EventBus::Create(config);
  ASSERT_TRUE(bus.ok());
  Signal signal;
  int handled = 0;
  ASSERT_OK((*bus)->SubscribeEnvelope("cycles", [&](const Envelope&, const Delivery&) {
    signal.Update([&] { ++handled; });
    return Status();
  }));
  ASSERT_OK((*bus)->Start());
  for (int i = 0; i < events; ++i) {
    ASSERT_OK((*bus)->PublishEnvelope(
        "cycles", NewEnvelope("agg-" + std::to_string(i % 10), "T", i / 10 + 1, "{}")));
  }
  ASSERT_TRUE(signal.WaitUntil([&] { return handled == events; }));
  ASSERT_TRUE((*bus)->Close().ok());
}

// Create/close cycles leave nothing behind: after a warm-up, 300 more cycles
// grow the heap in use by less than 256 bytes a cycle (a leaked bus, thread
// record or subscription would be kilobytes each).
TEST_F(BusContractTest, CreateCloseCyclesKeepTheHeapFlat) {
  const Config config = MemoryConfig(UniqueName("cycles"));
  for (int i = 0; i < 50; ++i) OneCycle(config, 100);
  const size_t before = HeapInUse();
  constexpr int kCycles = 300;
  for (int i = 0; i < kCycles; ++i) OneCycle(config, 100);
  const auto growth = static_cast<double>(HeapInUse()) - static_cast<double>(before);
  std::printf("heap in use over %d create/close cycles: %+.0f bytes (%+.1f a cycle)\n", kCycles,
              growth, growth / kCycles);
  EXPECT_LT(growth / kCycles, 256.0);
}

}  // namespace
}  // namespace evbus::test
