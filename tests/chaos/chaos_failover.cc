// The failover run: a three-node cluster of its own, a paced producer,
// consumer processes in one group, one fault scenario (chaos.h), then the
// accounting: every acknowledged publish handled, per-aggregate order kept,
// and how long publishing and delivery stalled.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "chaos/chaos.h"
#include "chaos/chaos_consumers.h"
#include "chaos/chaos_ledger.h"
#include "chaos/chaos_producer.h"
#include "chaos/chaos_servers.h"
#include "evbus/census.h"
#include "evbus/event_bus.h"

namespace evbus::chaos {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// The node (1..3) that leads `partition` of the run's topic, as
// `evbus topics --json` reports it (Kafka: broker id "2"; NATS: server name
// "node2"); 0 when there is none or the command failed.
int LeaderOf(const Options& o, int partition) {
  const std::string command = std::string(EVBUS_CLI_PATH) + " topics " + o.topic + " --json " +
                              (o.transport == "kafka" ? "--brokers " : "--url ") + o.address +
                              " 2>/dev/null";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return 0;
  std::string out;
  char buf[4096];
  while (fgets(buf, sizeof(buf), pipe) != nullptr) out += buf;
  pclose(pipe);
  const std::string field = "\"partition\":" + std::to_string(partition) + ",\"leader\":\"";
  const size_t at = out.find(field);
  if (at == std::string::npos) return 0;
  const size_t end = out.find('"', at + field.size());
  if (end == std::string::npos || end == at + field.size()) return 0;
  const char last = out[end - 1];  // "2" or "node2"
  return last >= '1' && last <= '3' ? last - '0' : 0;
}

// The faults of one scenario, on the caller's thread, at fixed fractions of
// the producing time; each step printed with the seconds since the start.
class Scenario {
 public:
  Scenario(const Options& o, Servers& servers, Consumers& consumers, std::mt19937_64& rng,
           Clock::time_point start)
      : o_(o), servers_(servers), consumers_(consumers), rng_(rng), start_(start) {}

  // Faults the scenario injects (server kills, stops and consumer kills).
  int faults() const {
    if (o_.scenario == "leader-kill") return 1;
    if (o_.scenario == "rolling-restart") return 3;
    if (o_.scenario == "member-kills") return 5;
    return 2;  // minority
  }

  // False when a step failed (a server did not stop or start).
  bool Run() {
    if (o_.scenario == "leader-kill") return LeaderKill();
    if (o_.scenario == "rolling-restart") return RollingRestart();
    if (o_.scenario == "member-kills") return MemberKills();
    return Minority();
  }

 private:
  bool LeaderKill() {
    At(0.3);
    const int leader = LeaderOf(o_, 0);
    if (leader == 0) return Say("no leader found for partition 0"), false;
    if (!servers_.Kill(leader)) return false;
    Say("killed node " + std::to_string(leader) + ", the leader of partition 0");
    At(0.6);
    const int now_leader = LeaderOf(o_, 0);
    Say(now_leader == 0 ? "partition 0's leader: unknown (evbus topics did not say)"
                        : "partition 0 is now led by node " + std::to_string(now_leader));
    if (!servers_.Start(leader)) return false;
    Say("node " + std::to_string(leader) + " serves again");
    return true;
  }

  bool RollingRestart() {
    for (int node = 1; node <= 3; ++node) {
      At(0.1 + 0.25 * (node - 1));
      if (!servers_.Stop(node)) return false;
      Say("stopped node " + std::to_string(node));
      if (!servers_.Start(node)) return false;
      Say("node " + std::to_string(node) + " serves again");
    }
    return true;
  }

  bool MemberKills() {
    const int node = std::uniform_int_distribution<int>(1, 3)(rng_);
    const std::vector<std::pair<double, std::function<bool()>>> steps = {
        {0.15, [&] { return KillConsumer(); }},
        {0.3, [&] { return KillConsumer(); }},
        {0.4,
         [&] {
           if (!servers_.Kill(node)) return false;
           Say("killed node " + std::to_string(node));
           return true;
         }},
        {0.5, [&] { return KillConsumer(); }},
        {0.6,
         [&] {
           if (!servers_.Start(node)) return false;
           Say("node " + std::to_string(node) + " serves again");
           return true;
         }},
        {0.8, [&] { return KillConsumer(); }},
    };
    for (const auto& [when, step] : steps) {
      At(when);
      if (!step()) return false;
    }
    return true;
  }

  bool KillConsumer() {
    bool busy = false;
    const size_t victim = consumers_.PickVictim(rng_, 10s, &busy);
    consumers_.KillAndRespawn(victim);
    Say("SIGKILLed consumer " + std::to_string(victim) + (busy ? " (handling)" : " (idle)") +
        " and started another");
    return true;
  }

  bool Minority() {
    At(0.3);
    int keep = LeaderOf(o_, 0);
    if (keep == 0) keep = 1;
    std::vector<int> others;
    for (int n = 1; n <= 3; ++n) {
      if (n != keep) others.push_back(n);
    }
    for (int n : others) {
      if (!servers_.Kill(n)) return false;
    }
    Say("killed nodes " + std::to_string(others[0]) + " and " + std::to_string(others[1]) +
        ": node " + std::to_string(keep) + " (leader of partition 0) is alone");
    At(0.55);
    for (int n : others) {
      if (!servers_.Start(n)) return false;
      Say("node " + std::to_string(n) + " serves again");
    }
    return true;
  }

  // Waits until `fraction` of the producing time: the scenario's schedule,
  // not a wait for an event.
  void At(double fraction) {
    std::this_thread::sleep_until(start_ +
                                  std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(fraction * o_.seconds)));
  }

  void Say(const std::string& what) {
    const double t = std::chrono::duration<double>(Clock::now() - start_).count();
    std::printf("failover: %6.2f s  %s\n", t, what.c_str());
    std::fflush(stdout);
  }

  const Options& o_;
  Servers& servers_;
  Consumers& consumers_;
  std::mt19937_64& rng_;
  const Clock::time_point start_;
};

// Median and maximum of `v` (ns) in ms; {0, 0} if empty.
std::pair<double, double> MedianMax(std::vector<int64_t> v) {
  if (v.empty()) return {0, 0};
  std::nth_element(v.begin(), v.begin() + static_cast<ptrdiff_t>(v.size() / 2), v.end());
  const int64_t median = v[v.size() / 2];
  return {median / 1e6, *std::max_element(v.begin(), v.end()) / 1e6};
}

// The longest time (ms) between two consecutive moments of `at` (ns).
double LongestGap(std::vector<int64_t> at) {
  std::sort(at.begin(), at.end());
  int64_t gap = 0;
  for (size_t i = 1; i < at.size(); ++i) gap = std::max(gap, at[i] - at[i - 1]);
  return gap / 1e6;
}

}  // namespace

int RunFailover(const Options& options, const std::string& self_path) {
  Options o = options;
  o.cluster = true;
  o.events = static_cast<int64_t>(o.rate) * o.seconds;
  const uint64_t seed = SeedOrClock(o.seed);
  std::mt19937_64 rng(seed);
  std::printf(
      "failover %s %s: %lld events over %d aggregates at %d/s for %d s, %d consumer processes, "
      "seed %llu\n",
      o.transport.c_str(), o.scenario.c_str(), static_cast<long long>(o.events), o.aggregates,
      o.rate, o.seconds, o.consumers, static_cast<unsigned long long>(seed));
  std::fflush(stdout);

  Servers servers(o.transport, /*cluster=*/true);
  o.address = servers.Up();
  if (o.address.empty()) return 1;
  const std::string dir = NameRun(o, "failover", seed);

  const size_t threads_before = CountProcessThreads();
  auto producer = EventBus::Create(MakeConfig(o));
  if (!producer.ok()) {
    std::fprintf(stderr, "failover: %s\n", producer.status().ToString().c_str());
    return 1;
  }
  (void)(*producer)->SetErrorCallback([](const Status&) {});  // the faults are expected
  Consumers consumers(o, self_path, dir);
  for (int c = 0; c < o.consumers; ++c) consumers.Spawn(static_cast<size_t>(c));

  Publishes pubs;
  const auto start = Clock::now();
  std::thread producing([&] { Produce(o, **producer, pubs, /*timed=*/true); });
  Scenario scenario(o, servers, consumers, rng, start);
  const bool faults_ok = scenario.Run();
  producing.join();
  bool all_completed = false;
  {
    // Kafka keeps retrying a publish up to its delivery timeout (5 min).
    std::unique_lock<std::mutex> lock(pubs.mu);
    all_completed = pubs.cv.wait_for(lock, 300s, [&] { return pubs.completed == pubs.accepted; });
  }
  Result<CloseReport> closed = (*producer)->Close();
  producer->reset();
  const size_t threads_after = CountProcessThreads();
  const bool producer_clean =
      closed.ok() && closed->bus_threads_after_close == 0 && threads_after == threads_before;

  std::set<EventKey> acknowledged;
  {
    std::lock_guard<std::mutex> lock(pubs.mu);
    acknowledged = pubs.acknowledged;
  }
  const auto drain_deadline = Clock::now() + std::chrono::seconds(o.drain_timeout_s);
  const auto drain_start = Clock::now();
  Counts counts = Tally(consumers.logs(), acknowledged);
  while (counts.lost > 0 && Clock::now() < drain_deadline) {
    // The logs are other processes' files: no event to wait on; re-read them.
    std::this_thread::sleep_for(500ms);
    counts = Tally(consumers.logs(), acknowledged);
  }
  std::printf("failover: %s %.1f s after the last publish completed\n",
              counts.lost == 0 ? "every acknowledged event handled" : "gave up waiting",
              std::chrono::duration<double>(Clock::now() - drain_start).count());
  if (counts.lost > 0) PrintGroupLag(o);
  const int clean = consumers.StopAll(60s);
  std::map<EventKey, int64_t> first_ns;
  counts = Tally(consumers.logs(), acknowledged, &first_ns);
  std::filesystem::remove_all(dir);

  // Stalls, over acknowledged events: publish -> ack, publish -> first
  // handled, and the longest stretch with no ack / no first handling at all.
  std::vector<int64_t> to_ack, to_handled, acks, handled;
  int64_t first_failed = 0, last_failed = 0;  // sent, of publishes not acknowledged
  for (int64_t i = 0; i < o.events; ++i) {
    const size_t n = static_cast<size_t>(i);
    if (pubs.acked_ns[n] == 0) {
      if (first_failed == 0) first_failed = pubs.sent_ns[n];
      last_failed = pubs.sent_ns[n];
      continue;
    }
    to_ack.push_back(pubs.acked_ns[n] - pubs.sent_ns[n]);
    acks.push_back(pubs.acked_ns[n]);
    auto it = first_ns.find(EventKey{i % o.aggregates, i / o.aggregates + 1});
    if (it != first_ns.end()) {
      to_handled.push_back(it->second - pubs.sent_ns[n]);
      handled.push_back(it->second);
    }
  }
  const auto [ack_p50, ack_max] = MedianMax(to_ack);
  const auto [handled_p50, handled_max] = MedianMax(to_handled);
  // A hand-over replays what was handled and not yet committed, or whose
  // acks a dying server lost (NATS redelivers those after ack_wait, 5 s
  // here): bounded at 5 s of publishing per fault.
  const int64_t duplicate_bound = int64_t{scenario.faults()} * 5 * o.rate;
  std::printf(
      "failover %s %s: published %lld (refused %lld), acknowledged %zu, failed %lld, completed "
      "%lld; consumed %lld, distinct %lld, duplicates %lld (bound %lld), lost %lld, order "
      "violations %lld, handled unacknowledged %lld\n",
      o.transport.c_str(), o.scenario.c_str(), static_cast<long long>(pubs.accepted),
      static_cast<long long>(pubs.refused), acknowledged.size(),
      static_cast<long long>(pubs.failed), static_cast<long long>(pubs.completed),
      static_cast<long long>(counts.consumed), static_cast<long long>(counts.distinct),
      static_cast<long long>(counts.duplicates), static_cast<long long>(duplicate_bound),
      static_cast<long long>(counts.lost), static_cast<long long>(counts.order_violations),
      static_cast<long long>(counts.unacknowledged_seen));
  if (!pubs.first_error.empty())
    std::printf("  first publish error: %s\n", pubs.first_error.c_str());
  std::printf(
      "failover %s %s: publish -> ack p50 %.1f ms, max %.0f ms, longest with no ack %.0f ms; "
      "publish -> handled p50 %.1f ms, max %.0f ms, longest with nothing handled %.0f ms\n",
      o.transport.c_str(), o.scenario.c_str(), ack_p50, ack_max, LongestGap(acks), handled_p50,
      handled_max, LongestGap(handled));
  std::printf(
      "failover %s %s: consumers closed cleanly %d of %zu, producer threads %zu before, %zu after "
      "close\n",
      o.transport.c_str(), o.scenario.c_str(), clean, consumers.size(), threads_before,
      threads_after);
  if (first_failed != 0) {
    const int64_t start_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(start.time_since_epoch()).count();
    std::printf("failover %s %s: the publishes not acknowledged were sent from %.2f s to %.2f s\n",
                o.transport.c_str(), o.scenario.c_str(), (first_failed - start_ns) / 1e9,
                (last_failed - start_ns) / 1e9);
  }
  for (const std::string& e : counts.examples) std::printf("  %s\n", e.c_str());
  const bool ok = faults_ok && all_completed && producer_clean && !acknowledged.empty() &&
                  counts.lost == 0 && counts.order_violations == 0 &&
                  counts.duplicates <= duplicate_bound &&
                  clean == static_cast<int>(consumers.size());
  std::printf("failover %s %s: %s\n", o.transport.c_str(), o.scenario.c_str(),
              ok ? "PASSED" : "FAILED");
  return ok ? 0 : 1;
}

}  // namespace evbus::chaos
