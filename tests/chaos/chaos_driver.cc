// The chaos run: a broker of its own, a paced producer, consumer processes
// killed and restarted at random, one broker restart, then the accounting.

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <random>
#include <set>
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

}  // namespace

int RunDriver(const Options& options, const std::string& self_path) {
  Options o = options;
  const uint64_t seed = SeedOrClock(o.seed);
  std::mt19937_64 rng(seed);
  std::printf(
      "chaos %s: %lld events over %d aggregates at %d/s, %d consumers, %d kills, broker "
      "restart %s, seed %llu\n",
      o.transport.c_str(), static_cast<long long>(o.events), o.aggregates, o.rate, o.consumers,
      o.kills, o.broker_restart ? "yes" : "no", static_cast<unsigned long long>(seed));
  std::fflush(stdout);

  Servers broker(o.transport, /*cluster=*/false);
  o.address = broker.Up();
  if (o.address.empty()) return 1;
  const std::string dir = NameRun(o, "chaos", seed);

  auto producer = EventBus::Create(MakeConfig(o));
  if (!producer.ok()) {
    std::fprintf(stderr, "chaos: %s\n", producer.status().ToString().c_str());
    return 1;
  }
  (void)(*producer)->SetErrorCallback([](const Status&) {});
  Consumers consumers(o, self_path, dir);
  for (int c = 0; c < o.consumers; ++c) consumers.Spawn(static_cast<size_t>(c));

  Publishes pubs;
  std::thread producing([&] { Produce(o, **producer, pubs); });
  const auto run_time = std::chrono::milliseconds(o.events * 1000 / o.rate);
  int killed = 0, killed_busy = 0, restarts = 0;
  for (int k = 0; k < o.kills; ++k) {
    // Kills spread over the producing time, each at a random moment of its
    // share, and only of a consumer that is handling events by then.
    const auto share = run_time / std::max(1, o.kills);
    std::uniform_int_distribution<int64_t> at(share.count() / 4,
                                              std::max<int64_t>(1, share.count()));
    std::this_thread::sleep_for(std::chrono::milliseconds(at(rng)));
    bool busy = false;
    const size_t victim = consumers.PickVictim(rng, 10s, &busy);
    killed_busy += busy ? 1 : 0;
    consumers.KillAndRespawn(victim);
    ++killed;
    if (o.broker_restart && restarts == 0 && k + 1 >= o.kills / 2) {
      std::printf("chaos: restarting the broker\n");
      std::fflush(stdout);
      if (!broker.Restart()) return 1;
      ++restarts;
    }
  }
  producing.join();
  {
    std::unique_lock<std::mutex> lock(pubs.mu);
    pubs.cv.wait_for(lock, 120s, [&] { return pubs.completed == pubs.accepted; });
  }
  (void)(*producer)->Close();

  // Every acknowledged event handled, or the drain deadline.
  std::set<EventKey> acknowledged;
  int64_t accepted = 0, completed = 0, refused = 0, failed = 0;
  {
    std::lock_guard<std::mutex> lock(pubs.mu);
    acknowledged = pubs.acknowledged;
    accepted = pubs.accepted, completed = pubs.completed, refused = pubs.refused;
    failed = pubs.failed;
  }
  const auto drain_deadline = Clock::now() + std::chrono::seconds(o.drain_timeout_s);
  Counts counts = Tally(consumers.logs(), acknowledged);
  while (counts.lost > 0 && Clock::now() < drain_deadline) {
    // The logs are other processes' files: no event to wait on; re-read them.
    std::this_thread::sleep_for(500ms);
    counts = Tally(consumers.logs(), acknowledged);
  }
  const int clean = consumers.StopAll(60s);
  counts = Tally(consumers.logs(), acknowledged);
  std::filesystem::remove_all(dir);

  std::printf(
      "chaos %s: published %lld (refused %lld), acknowledged %zu, failed %lld, completed %lld; "
      "consumed %lld, distinct %lld, duplicates %lld, lost %lld, order violations %lld, handled "
      "unacknowledged %lld; incarnations %lld (kills %d, %d of them while handling), broker "
      "restarts %d, consumers closed cleanly %d of %d\n",
      o.transport.c_str(), static_cast<long long>(accepted), static_cast<long long>(refused),
      acknowledged.size(), static_cast<long long>(failed), static_cast<long long>(completed),
      static_cast<long long>(counts.consumed), static_cast<long long>(counts.distinct),
      static_cast<long long>(counts.duplicates), static_cast<long long>(counts.lost),
      static_cast<long long>(counts.order_violations),
      static_cast<long long>(counts.unacknowledged_seen),
      static_cast<long long>(consumers.incarnations()), killed, killed_busy, restarts, clean,
      o.consumers);
  for (const std::string& e : counts.examples) std::printf("  %s\n", e.c_str());
  if (counts.lost > 0) PrintGroupLag(o);
  const bool ok = !acknowledged.empty() && counts.lost == 0 && counts.order_violations == 0 &&
                  clean == o.consumers;
  std::printf("chaos %s: %s\n", o.transport.c_str(), ok ? "PASSED" : "FAILED");
  return ok ? 0 : 1;
}

}  // namespace evbus::chaos
