// A consumer process killed with SIGKILL mid-stream, and what must hold
// after it: the next consumer of the group gets everything, each key's
// versions come in order (a replay from the last commit is allowed, a gap or
// a version overtaking an earlier one is not), duplicates stay within
// `max_duplicates`. Shared by the transports' tests (Kafka, NATS).

#ifndef EVBUS_TESTS_CRASH_CONSUMER_H_
#define EVBUS_TESTS_CRASH_CONSUMER_H_

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "test_support.h"

namespace evbus::test {

struct CrashScenario {
  Config config;  // the group's configuration (publisher and consumers)
  std::string topic;
  std::string log_path;  // where the victim logs what it handled
  int keys = 20;
  int versions = 50;
  // The victim is killed once it has handled `kill_after` envelopes, and the
  // survivor may handle at most `max_duplicates` of them again. A test
  // proves something only with kill_after above max_duplicates: a survivor
  // that replayed everything would pass otherwise.
  int kill_after = 0;
  int max_duplicates = 0;
  int total() const { return keys * versions; }
};

// Publishes versions 1..n of every key, interleaved, and waits for the acks.
inline void PublishKeyedVersions(const CrashScenario& sc) {
  auto producer = EventBus::Create(sc.config);
  ASSERT_TRUE(producer.ok()) << producer.status().ToString();
  for (int v = 1; v <= sc.versions; ++v) {
    for (int k = 0; k < sc.keys; ++k) {
      ASSERT_OK((*producer)->PublishEnvelope(
          sc.topic, NewEnvelope("key-" + std::to_string(k), "T", v, "{}")));
    }
  }
  ASSERT_TRUE((*producer)->Close().ok());
}

// Forks the victim: it handles slowly, appending "key version" to the log
// for each envelope handled, until killed. Never returns in the child.
// REQUIRES: the process is single-threaded (no bus open).
inline pid_t ForkSlowConsumer(const CrashScenario& sc) {
  const pid_t child = fork();
  if (child != 0) return child;
  // One write(2) per line on an O_APPEND descriptor: whole lines even with
  // several workers writing, and each is complete before the handler returns.
  const int fd = open(sc.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  auto bus = EventBus::Create(sc.config);
  if (!bus.ok() || fd < 0) _exit(3);
  (void)(*bus)->SubscribeEnvelope(sc.topic, [&](const Envelope& e, const Delivery& d) {
    d.cancel.WaitFor(std::chrono::milliseconds(2));
    const std::string line = e.aggregate_id + ' ' + std::to_string(e.event_version) + '\n';
    if (write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(4);
    return Status();
  });
  (void)(*bus)->Start();
  for (;;) pause();
}

inline int CountLines(const std::string& path) {
  std::ifstream in(path);
  return static_cast<int>(std::count(std::istreambuf_iterator<char>(in), {}, '\n'));
}

// Key -> versions handled, in the order the log has them.
inline std::map<std::string, std::vector<int64_t>> ReadHandled(const std::string& path) {
  std::map<std::string, std::vector<int64_t>> seen;
  std::ifstream in(path);
  std::string key;
  int64_t v;
  while (in >> key >> v) seen[key].push_back(v);
  return seen;
}

// Each key's history: 1..n, then (after the kill) a replay from some
// committed point: never a gap, never a version out of order within a run.
// Returns the number of duplicates.
inline size_t ExpectEveryKeyInOrder(const std::map<std::string, std::vector<int64_t>>& seen,
                                    int versions) {
  size_t duplicates = 0;
  for (const auto& [key, vs] : seen) {
    int64_t high = 0;
    for (int64_t v : vs) {
      EXPECT_LE(v, high + 1) << key << ": gap before version " << v;
      if (v <= high) ++duplicates;
      high = std::max(high, v);
    }
    EXPECT_EQ(high, versions) << key;
  }
  return duplicates;
}

// The whole scenario: publish, fork the victim, kill it once it handled
// kill_after, then a survivor bus of the same group finishes the stream.
// REQUIRES: no bus of this process is open (it forks).
inline void RunConsumerKilledMidStream(const CrashScenario& sc) {
  ASSERT_GT(sc.kill_after, sc.max_duplicates) << "a bound the victim cannot exceed proves nothing";
  ASSERT_LT(sc.kill_after, sc.total());
  const size_t threads_before = CountProcessThreads();
  PublishKeyedVersions(sc);
  if (::testing::Test::HasFatalFailure()) return;
  ASSERT_EQ(CountProcessThreads(), threads_before) << "fork only a process with no bus threads";
  const pid_t child = ForkSlowConsumer(sc);
  ASSERT_GE(child, 0);
  const bool progressed = Eventually([&] { return CountLines(sc.log_path) >= sc.kill_after; }, 60s);
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  ASSERT_TRUE(progressed) << "child handled " << CountLines(sc.log_path);

  std::map<std::string, std::vector<int64_t>> seen = ReadHandled(sc.log_path);
  Signal signal;
  auto survivor = EventBus::Create(sc.config);
  ASSERT_TRUE(survivor.ok()) << survivor.status().ToString();
  ASSERT_OK((*survivor)->SubscribeEnvelope(sc.topic, [&](const Envelope& e, const Delivery&) {
    signal.Update([&] { seen[e.aggregate_id].push_back(e.event_version); });
    return Status();
  }));
  ASSERT_OK((*survivor)->Start());
  auto complete = [&] {
    for (int k = 0; k < sc.keys; ++k) {
      const auto& vs = seen["key-" + std::to_string(k)];
      if (vs.empty() || vs.back() != sc.versions) return false;
    }
    return true;
  };
  const bool done = signal.WaitUntil(complete, 60s);
  ASSERT_TRUE((*survivor)->Close().ok());
  ASSERT_TRUE(done);
  const size_t duplicates = ExpectEveryKeyInOrder(seen, sc.versions);
  EXPECT_LE(duplicates, static_cast<size_t>(sc.max_duplicates))
      << "the victim handled " << CountLines(sc.log_path);
  std::remove(sc.log_path.c_str());
}

}  // namespace evbus::test

#endif  // EVBUS_TESTS_CRASH_CONSUMER_H_
