// Process-wide test set-up. Sanitizer runtimes start helper threads lazily at
// the first pthread_create (TSan's background thread); starting and joining
// one thread here makes them exist before any test takes its T1 baseline.

#include <gtest/gtest.h>

#include <thread>

namespace {

class StartRuntimeThreads : public ::testing::Environment {
 public:
  void SetUp() override { std::thread([] {}).join(); }
};

const auto* const kEnvironment = ::testing::AddGlobalTestEnvironment(new StartRuntimeThreads);

}  // namespace
