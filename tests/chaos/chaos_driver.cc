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
#include "chaos/chaos_ledger.h"
#include "evbus/event_bus.h"
#include "free_port.h"

namespace evbus::chaos {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

using evbus::test::FreePort;

// A broker of the run's own, driven by the project's scripts on free ports;
// stopped (and its directory deleted) when this goes out of scope.
class Broker {
 public:
  explicit Broker(const std::string& transport) : transport_(transport) {
    const int a = FreePort(), b = FreePort();
    env_ = transport == "kafka" ? "EVBUS_KAFKA_PORT=" + std::to_string(a) +
                                      " EVBUS_KAFKA_CONTROLLER_PORT=" + std::to_string(b)
                                : "EVBUS_NATS_PORT=" + std::to_string(a) +
                                      " EVBUS_NATS_MONITOR_PORT=" + std::to_string(b) +
                                      " EVBUS_NATS_DIR=/tmp/evbus-chaos-nats-" + std::to_string(a);
  }
  ~Broker() {
    if (up_) (void)Run("down");
  }
  // Starts it; the address, or empty on failure (the script's output printed).
  std::string Up() {
    std::string out = Run("up");
    up_ = !out.empty();
    return out;
  }
  bool Restart() { return !Run("restart").empty(); }

 private:
  // Runs `scripts/<transport> verb`; its last output line, or "" if it failed.
  std::string Run(const std::string& verb) {
    const std::string command =
        env_ + " " EVBUS_SOURCE_DIR "/scripts/" + transport_ + " " + verb + " 2>&1";
    FILE* pipe = popen(command.c_str(), "r");
    if (pipe == nullptr) return "";
    std::string out, last;
    char buf[512];
    while (fgets(buf, sizeof(buf), pipe) != nullptr) {
      out += buf;
      last = buf;
    }
    if (pclose(pipe) != 0) {
      std::fprintf(stderr, "chaos: %s failed:\n%s", command.c_str(), out.c_str());
      return "";
    }
    while (!last.empty() && (last.back() == '\n' || last.back() == '\r')) last.pop_back();
    return last.empty() ? "ok" : last;
  }

  std::string transport_;
  std::string env_;
  bool up_ = false;
};

// The consumer processes: this program in `consume` mode, one log each.
class Consumers {
 public:
  Consumers(const Options& o, std::string self, std::string dir)
      : o_(o), self_(std::move(self)), dir_(std::move(dir)) {}
  ~Consumers() {
    for (pid_t p : pids_) {
      if (p > 0) kill(p, SIGKILL), waitpid(p, nullptr, 0);
    }
  }

  void Spawn(size_t slot) {
    const int64_t inc = ++incarnations_;
    const std::string log = dir_ + "/consumer-" + std::to_string(inc) + ".log";
    logs_.push_back(log);
    std::vector<std::string> args = {self_,           "consume",
                                     "--transport",   o_.transport,
                                     "--address",     o_.address,
                                     "--topic",       o_.topic,
                                     "--group",       o_.group,
                                     "--log",         log,
                                     "--incarnation", std::to_string(inc),
                                     "--handle-us",   std::to_string(o_.handle_us)};
    std::vector<char*> argv;  // built before fork: the child only execs
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t pid = fork();
    if (pid == 0) {
      execv(self_.c_str(), argv.data());
      _exit(127);
    }
    if (slot >= pids_.size()) pids_.resize(slot + 1, -1), slot_logs_.resize(slot + 1);
    pids_[slot] = pid;
    slot_logs_[slot] = log;
  }

  // A random slot whose consumer has handled something in this incarnation,
  // so that a kill hits one with work in flight rather than one still
  // joining its group (or, on NATS, standing by without a partition);
  // waits for one at most `timeout`, then any slot. `busy` says which.
  size_t PickVictim(std::mt19937_64& rng, std::chrono::seconds timeout, bool* busy) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      std::vector<size_t> handling;
      for (size_t s = 0; s < slot_logs_.size(); ++s) {
        std::error_code ec;
        // Another process's file: no event to wait on; look at its size.
        if (std::filesystem::file_size(slot_logs_[s], ec) > 0 && !ec) handling.push_back(s);
      }
      *busy = !handling.empty();
      if (*busy || Clock::now() >= deadline) {
        const size_t n = *busy ? handling.size() : slot_logs_.size();
        const size_t i = std::uniform_int_distribution<size_t>(0, n - 1)(rng);
        return *busy ? handling[i] : i;
      }
      std::this_thread::sleep_for(50ms);
    }
  }

  void KillAndRespawn(size_t slot) {
    kill(pids_[slot], SIGKILL);
    waitpid(pids_[slot], nullptr, 0);
    pids_[slot] = -1;
    Spawn(slot);
  }

  // SIGTERM to every consumer; how many closed cleanly (exit 0) in time.
  int StopAll(std::chrono::seconds timeout) {
    for (pid_t p : pids_) kill(p, SIGTERM);
    const auto deadline = Clock::now() + timeout;
    int clean = 0;
    for (pid_t& p : pids_) {
      int status = 0;
      pid_t r = 0;
      // Child exit has no event a thread can wait on with a deadline; poll it.
      while ((r = waitpid(p, &status, WNOHANG)) == 0 && Clock::now() < deadline) {
        std::this_thread::sleep_for(20ms);
      }
      if (r == p && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        ++clean;
      } else {
        std::fprintf(stderr, "chaos: consumer %d did not close cleanly (status %d)\n", p, status);
        if (r == 0) kill(p, SIGKILL), waitpid(p, nullptr, 0);
      }
      p = -1;
    }
    return clean;
  }

  const std::vector<std::string>& logs() const { return logs_; }
  int64_t incarnations() const { return incarnations_; }

 private:
  Options o_;
  std::string self_;
  std::string dir_;
  std::vector<pid_t> pids_;
  std::vector<std::string> slot_logs_;  // the log of each slot's current incarnation
  std::vector<std::string> logs_;
  int64_t incarnations_ = 0;
};

// What the producer's publishes came to.
struct Publishes {
  std::mutex mu;
  std::condition_variable cv;
  int64_t accepted = 0, completed = 0, refused = 0, failed = 0;
  std::set<EventKey> acknowledged;
};

void Produce(const Options& o, EventBus& bus, Publishes& p) {
  const auto start = Clock::now();
  for (int64_t i = 0; i < o.events; ++i) {
    // Paced at o.rate: the load of a service, not a burst (a pacing wait).
    std::this_thread::sleep_until(start + std::chrono::microseconds(i * 1'000'000 / o.rate));
    const EventKey k{i % o.aggregates, i / o.aggregates + 1};
    Envelope e = NewEnvelope("agg-" + std::to_string(k.aggregate), "chaos.Event", k.version,
                             "{\"i\":" + std::to_string(i) + "}");
    Status s = bus.PublishEnvelope(o.topic, e, [&p, k](const PublishResult& r) {
      std::lock_guard<std::mutex> lock(p.mu);
      ++p.completed;
      if (r.status.ok()) {
        p.acknowledged.insert(k);
      } else {
        ++p.failed;
      }
      p.cv.notify_all();
    });
    std::lock_guard<std::mutex> lock(p.mu);
    ++(s.ok() ? p.accepted : p.refused);
  }
}

}  // namespace

int RunDriver(const Options& options, const std::string& self_path) {
  Options o = options;
  const uint64_t seed =
      o.seed != 0 ? o.seed : static_cast<uint64_t>(Clock::now().time_since_epoch().count());
  std::mt19937_64 rng(seed);
  std::printf(
      "chaos %s: %lld events over %d aggregates at %d/s, %d consumers, %d kills, broker "
      "restart %s, seed %llu\n",
      o.transport.c_str(), static_cast<long long>(o.events), o.aggregates, o.rate, o.consumers,
      o.kills, o.broker_restart ? "yes" : "no", static_cast<unsigned long long>(seed));
  std::fflush(stdout);

  Broker broker(o.transport);
  o.address = broker.Up();
  if (o.address.empty()) return 1;
  const std::string run = std::to_string(seed % 1'000'000'007);
  o.topic = "chaos-" + run;
  o.group = "chaos-group-" + run;
  const std::string dir = std::filesystem::temp_directory_path() / ("evbus-chaos-" + run);
  std::filesystem::create_directories(dir);

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
  if (counts.lost > 0) {
    // Stalled (committed below the end) or skipped (committed past what was
    // never handled)? The group's lag tells.
    const std::string lag = std::string(EVBUS_CLI_PATH) + " lag --group " + o.group + " " +
                            (o.transport == "kafka" ? "--brokers " : "--url ") + o.address + " " +
                            o.topic;
    std::fflush(stdout);
    (void)std::system(lag.c_str());
  }
  const bool ok = !acknowledged.empty() && counts.lost == 0 && counts.order_violations == 0 &&
                  clean == o.consumers;
  std::printf("chaos %s: %s\n", o.transport.c_str(), ok ? "PASSED" : "FAILED");
  return ok ? 0 : 1;
}

}  // namespace evbus::chaos
