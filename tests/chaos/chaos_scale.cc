// The scale-out run: a three-node cluster of its own, a topic filled once,
// then read by 1, 2, 3... consumer processes in a fresh group each; prints
// each group's throughput and its per-aggregate order check.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "chaos/chaos.h"
#include "chaos/chaos_consumers.h"
#include "chaos/chaos_ledger.h"
#include "chaos/chaos_producer.h"
#include "chaos/chaos_servers.h"
#include "evbus/event_bus.h"

namespace evbus::chaos {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct GroupRun {
  int consumers = 0;
  double seconds = 0;       // processes started -> every event handled
  double span_seconds = 0;  // first event handled -> last event first handled
  Counts counts;
  int clean = 0;
};

GroupRun ReadWithGroup(Options o, int consumers, const std::set<EventKey>& acknowledged,
                       const std::string& self_path, const std::string& dir) {
  GroupRun r;
  r.consumers = consumers;
  o.group += "-" + std::to_string(consumers);
  const std::string logs = dir + "/" + std::to_string(consumers);
  std::filesystem::create_directories(logs);
  Consumers group(o, self_path, logs);
  const auto start = Clock::now();
  for (int c = 0; c < consumers; ++c) group.Spawn(static_cast<size_t>(c));
  const auto deadline = start + std::chrono::seconds(o.drain_timeout_s);
  r.counts = Tally(group.logs(), acknowledged);
  while (r.counts.lost > 0 && Clock::now() < deadline) {
    // Other processes' files: no event to wait on; re-read them.
    std::this_thread::sleep_for(100ms);
    r.counts = Tally(group.logs(), acknowledged);
  }
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  r.clean = group.StopAll(60s);
  std::map<EventKey, int64_t> first;
  r.counts = Tally(group.logs(), acknowledged, &first);
  int64_t lo = INT64_MAX, hi = 0;
  for (const auto& [k, at] : first) lo = std::min(lo, at), hi = std::max(hi, at);
  r.span_seconds = first.empty() ? 0 : (hi - lo) / 1e9;
  return r;
}

}  // namespace

int RunScale(const Options& options, const std::string& self_path) {
  Options o = options;
  o.cluster = true;
  o.handle_us = 0;
  const uint64_t seed = SeedOrClock(o.seed);
  std::printf("scale %s: %lld events over %d aggregates on a three-node cluster, seed %llu\n",
              o.transport.c_str(), static_cast<long long>(o.events), o.aggregates,
              static_cast<unsigned long long>(seed));
  std::fflush(stdout);
  Servers servers(o.transport, /*cluster=*/true);
  o.address = servers.Up();
  if (o.address.empty()) return 1;
  const std::string dir = NameRun(o, "scale", seed);

  // Fill the topic once, as fast as the cluster acknowledges.
  Publishes pubs;
  {
    auto producer = EventBus::Create(MakeConfig(o));
    if (!producer.ok()) {
      std::fprintf(stderr, "scale: %s\n", producer.status().ToString().c_str());
      return 1;
    }
    Options burst = o;
    burst.rate = 1'000'000'000;
    const auto start = Clock::now();
    Produce(burst, **producer, pubs);
    std::unique_lock<std::mutex> lock(pubs.mu);
    pubs.cv.wait_for(lock, 300s, [&] { return pubs.completed == pubs.accepted; });
    std::printf("scale %s: published %lld, acknowledged %zu, failed %lld in %.1f s\n",
                o.transport.c_str(), static_cast<long long>(pubs.accepted),
                pubs.acknowledged.size(), static_cast<long long>(pubs.failed),
                std::chrono::duration<double>(Clock::now() - start).count());
    lock.unlock();
    (void)(*producer)->Close();
  }

  std::printf("%-10s %14s %12s %11s %11s %7s %16s %15s\n", "consumers", "events/s", "read span s",
              "to done s", "duplicates", "lost", "order violations", "closed cleanly");
  bool ok = !pubs.acknowledged.empty();
  for (int consumers : o.scale_consumers) {
    const GroupRun r = ReadWithGroup(o, consumers, pubs.acknowledged, self_path, dir);
    const double rate = r.span_seconds > 0 ? r.counts.distinct / r.span_seconds : 0;
    std::printf("%-10d %14.0f %12.2f %11.2f %11lld %7lld %16lld %11d of %d\n", consumers, rate,
                r.span_seconds, r.seconds, static_cast<long long>(r.counts.duplicates),
                static_cast<long long>(r.counts.lost),
                static_cast<long long>(r.counts.order_violations), r.clean, consumers);
    std::fflush(stdout);
    ok = ok && r.counts.lost == 0 && r.counts.order_violations == 0 && r.clean == consumers;
  }
  std::filesystem::remove_all(dir);
  std::printf("scale %s: %s\n", o.transport.c_str(), ok ? "PASSED" : "FAILED");
  return ok ? 0 : 1;
}

}  // namespace evbus::chaos
