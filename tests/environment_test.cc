// Process-wide test set-up. Sanitizer runtimes start helper threads lazily at
// the first pthread_create (TSan's background thread); starting and joining
// one thread here makes them exist before any test takes its T1 baseline, and
// registering them as "runtime" keeps them out of the census's "unknown".

#include <gtest/gtest.h>
#include <unistd.h>

#include <thread>

#include "core/thread.h"
#include "evbus/census.h"

namespace {

class StartRuntimeThreads : public ::testing::Environment {
 public:
  void SetUp() override {
    std::thread([] {}).join();
    for (const evbus::ThreadInfo& t : evbus::TakeCensus().threads) {
      if (t.component == "unknown") evbus::core::RegisterThread(t.tid, "runtime", 0);
    }
  }
};

const auto* const kEnvironment = ::testing::AddGlobalTestEnvironment(new StartRuntimeThreads);

}  // namespace
