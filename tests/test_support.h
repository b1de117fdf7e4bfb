// Shared by the tests: waiting on conditions with a deadline (never sleeping
// to synchronise), the T1 thread-count check, and bus helpers.

#ifndef EVBUS_TESTS_TEST_SUPPORT_H_
#define EVBUS_TESTS_TEST_SUPPORT_H_

#include <gtest/gtest.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>

#include "evbus/evbus.h"

// Asserts that a Status expression is OK, printing it when not.
#define ASSERT_OK(expr)                                                           \
  do {                                                                            \
    const ::evbus::Status evbus_status_ = (expr);                                 \
    ASSERT_TRUE(evbus_status_.ok()) << #expr << ": " << evbus_status_.ToString(); \
  } while (0)

// Like ASSERT_OK, without returning from the test.
#define EXPECT_OK(expr)                                                           \
  do {                                                                            \
    const ::evbus::Status evbus_status_ = (expr);                                 \
    EXPECT_TRUE(evbus_status_.ok()) << #expr << ": " << evbus_status_.ToString(); \
  } while (0)

namespace evbus::test {

using namespace std::chrono_literals;

// A condition that test code waits on and handlers signal.
class Signal {
 public:
  // Runs `change` under the lock, then wakes waiters.
  void Update(const std::function<void()>& change) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      change();
    }
    cv_.notify_all();
  }
  void Notify() {
    Update([] {});
  }
  // Waits until `pred` (checked under the lock) holds, or `timeout`.
  bool WaitUntil(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 20s) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, pred);
  }
  std::mutex& mutex() { return mu_; }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
};

// A record handler that counts what it handles; tests wait on the count.
class HandledCount {
 public:
  RecordHandler handler() {
    return [this](const Record&, const Delivery&) {
      signal_.Update([&] { ++count_; });
      return Status();
    };
  }
  // Waits until at least `n` were handled, or `timeout`.
  bool WaitFor(int n, std::chrono::milliseconds timeout = 20s) {
    return signal_.WaitUntil([&] { return count_ >= n; }, timeout);
  }
  int count() {
    std::lock_guard<std::mutex> lock(signal_.mutex());
    return count_;
  }

 private:
  Signal signal_;
  int count_ = 0;
};

// For state with no event to wait on (bus statistics): re-checks `pred` every
// millisecond until it holds or `timeout` passes.
inline bool Eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 20s) {
  std::mutex mu;
  std::condition_variable never;
  std::unique_lock<std::mutex> lock(mu);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    never.wait_for(lock, 1ms);
  }
  return true;
}

// A gate handlers block on until the test opens it (or the bus cancels).
class Gate {
 public:
  void Open() {
    signal_.Update([&] { open_ = true; });
  }
  // Returns false if the bus cancelled while waiting.
  bool Pass(const CancelToken& cancel) {
    for (;;) {
      if (signal_.WaitUntil([&] { return open_; }, 5ms)) return true;
      if (cancel.cancelled()) return false;
    }
  }

 private:
  Signal signal_;
  bool open_ = false;
};

// T1: every fixture records the thread count before it creates a bus and
// checks it right after the buses are closed, with no sleep in between.
class BusTest : public ::testing::Test {
 protected:
  void SetUp() override { baseline_threads_ = CountProcessThreads(); }
  void ExpectThreadsAtBaseline() {
    EXPECT_EQ(CountProcessThreads(), baseline_threads_) << "threads left after close:\n"
                                                        << TakeCensus().ToTable();
  }
  size_t baseline_threads_ = 0;
};

// Engine settings that keep tests fast: frequent commits, millisecond backoffs.
inline void UseFastTestSettings(Config& c) {
  c.subscriber.workers = 4;
  c.subscriber.commit_interval = 5ms;
  c.subscriber.retry.initial_backoff = 1ms;
  c.subscriber.retry.max_backoff = 5ms;
  c.subscriber.retry.max_attempts = 3;
  c.close_timeout = 10s;
}

// A memory-transport config on a broker private to the calling test.
inline Config MemoryConfig(const std::string& broker) {
  Config c;
  c.transport = TransportKind::kMemory;
  c.memory.broker = broker;
  c.memory.partitions = 4;
  UseFastTestSettings(c);
  return c;
}

inline std::string UniqueName(const std::string& prefix) {
  static std::atomic<int> n{0};
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  // Unique per run too: Kafka and NATS keep topics and group offsets across runs.
  static const std::string run = [] {
    std::random_device rd;
    char buf[16];
    std::snprintf(buf, sizeof(buf), "%08x", rd());
    return std::string(buf);
  }();
  std::string name =
      prefix + "-" + (info ? info->name() : "x") + "-" + run + "-" + std::to_string(n++);
  for (char& c : name) {  // topic-safe on every broker: [A-Za-z0-9._-]
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') c = '_';
  }
  return name;
}

// Fixture for a transport's own tests against a real server: skipped when
// `unavailable()` names a reason (never in CI), a fresh config and group per
// test, T1 checked at the end.
class ServerTest : public BusTest {
 protected:
  ServerTest(std::string name, std::function<std::string()> unavailable,
             std::function<Config(const std::string&)> make_config)
      : name_(std::move(name)),
        unavailable_(std::move(unavailable)),
        make_config_(std::move(make_config)) {}
  void SetUp() override {
    BusTest::SetUp();
    if (std::string why = unavailable_(); !why.empty()) GTEST_SKIP() << why;
    unique_ = UniqueName(name_);
    config_ = make_config_(unique_);
    config_.subscriber.group = unique_ + "-group";
  }
  void TearDown() override { ExpectThreadsAtBaseline(); }

  std::unique_ptr<EventBus> NewBus(const Config& config) {
    auto bus = EventBus::Create(config);
    EXPECT_TRUE(bus.ok()) << bus.status().ToString();
    return bus.ok() ? std::move(bus).value() : nullptr;
  }

  std::string unique_;
  Config config_;

 private:
  std::string name_;
  std::function<std::string()> unavailable_;
  std::function<Config(const std::string&)> make_config_;
};

}  // namespace evbus::test

#endif  // EVBUS_TESTS_TEST_SUPPORT_H_
