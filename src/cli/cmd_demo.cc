// evbus demo: one producer bus and one consumer bus on the embedded memory
// broker (or a configured transport); many aggregates with ordered versions;
// prints throughput, end-to-end latency, order violations, duplicates and the
// thread census at each phase, ending with the threads left after close.

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "evbus/evbus.h"

namespace evbus::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct DemoOptions {
  int64_t events = 200'000;
  int aggregates = 5'000;
  int payload_bytes = 256;
  int workers = 0;
  std::string config_file;
};

struct Phase {
  std::string name;
  Census census;
};

std::string Payload(int64_t seq, int bytes) {
  std::string p = R"({"seq":)" + std::to_string(seq) + R"(,"pad":")";
  const int pad = std::max(0, bytes - static_cast<int>(p.size()) - 2);
  p.append(static_cast<size_t>(pad), 'x');
  p += "\"}";
  return p;
}

int64_t AggregateIndex(std::string_view id) {  // "agg-<n>"
  int64_t n = -1;
  std::from_chars(id.data() + 4, id.data() + id.size(), n);
  return n;
}

void PrintCensusTable(const std::vector<Phase>& phases) {
  std::map<std::string, std::vector<size_t>> rows;
  for (size_t i = 0; i < phases.size(); ++i) {
    for (const auto& [component, count] : phases[i].census.ByComponent()) {
      auto& row = rows[component];
      row.resize(phases.size());
      row[i] = count;
    }
  }
  std::printf("\nthread census (threads by owner at each phase)\n%-14s", "owner");
  for (const Phase& p : phases) std::printf(" %14s", p.name.c_str());
  std::printf("\n");
  for (auto& [component, counts] : rows) {
    counts.resize(phases.size());
    std::printf("%-14s", component.c_str());
    for (size_t c : counts) std::printf(" %14zu", c);
    std::printf("\n");
  }
  std::printf("%-14s", "total");
  for (const Phase& p : phases) std::printf(" %14zu", p.census.total());
  std::printf("\n");
}

double Percentile(std::vector<int64_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  const size_t i =
      std::min(sorted.size() - 1, static_cast<size_t>(q * static_cast<double>(sorted.size())));
  return static_cast<double>(sorted[i]) / 1000.0;  // ns -> us
}

int Run(const DemoOptions& o) {
  Config config;
  if (!o.config_file.empty()) {
    Result<Config> loaded = LoadConfigFile(o.config_file);
    if (!loaded.ok()) {
      std::fprintf(stderr, "evbus demo: %s\n", loaded.status().ToString().c_str());
      return kExitRuntime;
    }
    config = *loaded;
  }
  if (Status s = ApplyEnvOverrides(config); !s.ok()) {
    std::fprintf(stderr, "evbus demo: %s\n", s.ToString().c_str());
    return kExitRuntime;
  }
  if (o.workers > 0) config.subscriber.workers = o.workers;
  config.subscriber.group = "evbus-demo";

  std::vector<Phase> phases;
  phases.push_back({"start", TakeCensus()});
  Result<std::unique_ptr<EventBus>> producer = EventBus::Create(config);
  Result<std::unique_ptr<EventBus>> consumer =
      producer.ok() ? EventBus::Create(config) : producer.status();
  if (!consumer.ok()) {
    std::fprintf(stderr, "evbus demo: %s\n", consumer.status().ToString().c_str());
    return kExitRuntime;
  }
  phases.push_back({"create", TakeCensus()});

  const std::string topic = "evbus-demo-orders";
  std::vector<int64_t> last_version(static_cast<size_t>(o.aggregates), 0);
  std::vector<int64_t> latency_ns(static_cast<size_t>(o.events), 0);
  std::atomic<int64_t> received{0}, violations{0}, duplicates{0};
  Clock::time_point last_receive{};
  std::mutex done_mu;
  std::condition_variable done_cv;
  bool done = false;
  Status sub = (*consumer)->SubscribeEnvelope(topic, [&](const Envelope& e, const Delivery&) {
    const auto now = std::chrono::system_clock::now();
    // Per-key ordering: one aggregate's handler never runs concurrently.
    int64_t& last = last_version[static_cast<size_t>(AggregateIndex(e.aggregate_id))];
    if (e.event_version <= last) {
      duplicates.fetch_add(1, std::memory_order_relaxed);
    } else {
      if (e.event_version != last + 1) violations.fetch_add(1, std::memory_order_relaxed);
      last = e.event_version;
    }
    const int64_t n = received.fetch_add(1, std::memory_order_relaxed);
    if (n < o.events) {
      latency_ns[static_cast<size_t>(n)] = (now - e.timestamp.time).count();
    }
    if (n + 1 == o.events) {
      std::lock_guard<std::mutex> lock(done_mu);
      last_receive = Clock::now();
      done = true;
      done_cv.notify_all();
    }
    return Status();
  });
  if (!sub.ok() || !(*consumer)->Start().ok()) {
    std::fprintf(stderr, "evbus demo: subscribe/start failed: %s\n", sub.ToString().c_str());
    return kExitRuntime;
  }
  phases.push_back({"subscribe", TakeCensus()});

  std::printf(
      "evbus demo: %lld envelopes of ~%d bytes over %d aggregates, transport %s, "
      "%d worker(s)\n",
      static_cast<long long>(o.events), o.payload_bytes, o.aggregates,
      std::string(ToString(config.transport)).c_str(),
      config.subscriber.workers > 0 ? config.subscriber.workers
                                    : static_cast<int>(std::thread::hardware_concurrency()));
  const auto start = Clock::now();
  std::atomic<int64_t> publish_errors{0};
  for (int64_t i = 0; i < o.events; ++i) {
    const int agg = static_cast<int>(i % o.aggregates);
    Envelope e = NewEnvelope("agg-" + std::to_string(agg), "OrderUpdated", i / o.aggregates + 1,
                             Payload(i, o.payload_bytes));
    Status s = (*producer)->PublishEnvelope(topic, e, [&](const PublishResult& r) {
      if (!r.status.ok()) publish_errors.fetch_add(1);
    });
    if (!s.ok()) {
      std::fprintf(stderr, "evbus demo: publish: %s\n", s.ToString().c_str());
      return kExitRuntime;
    }
    if (i == o.events / 2) phases.push_back({"load", TakeCensus()});
  }
  const auto published = Clock::now();
  // Wait for the last envelope to arrive (no fixed sleep), at most 60 s.
  Clock::time_point end;
  {
    std::unique_lock<std::mutex> lock(done_mu);
    done_cv.wait_for(lock, std::chrono::seconds(60), [&] { return done; });
    end = done ? last_receive : Clock::now();
  }
  const int64_t got = received.load();

  Result<CloseReport> consumer_close = (*consumer)->Close();
  Result<CloseReport> producer_close = (*producer)->Close();
  phases.push_back({"close", TakeCensus()});

  const double secs = std::chrono::duration<double>(end - start).count();
  const double pub_secs = std::chrono::duration<double>(published - start).count();
  std::vector<int64_t> lat(latency_ns.begin(), latency_ns.begin() + std::min(got, o.events));
  std::sort(lat.begin(), lat.end());
  std::printf("\npublished      %lld in %.3f s (%.0f/s), %lld publish errors\n",
              static_cast<long long>(o.events), pub_secs, static_cast<double>(o.events) / pub_secs,
              static_cast<long long>(publish_errors.load()));
  std::printf("received       %lld in %.3f s end to end: %.0f envelopes/s\n",
              static_cast<long long>(got), secs, static_cast<double>(got) / secs);
  std::printf(
      "latency (publish call -> handler entry): p50 %.1f us, p99 %.1f us, p99.9 %.1f us, "
      "max %.1f us\n",
      Percentile(lat, 0.50), Percentile(lat, 0.99), Percentile(lat, 0.999),
      lat.empty() ? 0.0 : static_cast<double>(lat.back()) / 1000.0);
  std::printf("order violations %lld, duplicates %lld, lost %lld\n",
              static_cast<long long>(violations.load()), static_cast<long long>(duplicates.load()),
              static_cast<long long>(std::max<int64_t>(0, o.events - got)));
  PrintCensusTable(phases);
  const size_t leaked = phases.back().census.total() - phases.front().census.total();
  if (consumer_close.ok()) std::printf("\nconsumer %s\n", consumer_close->ToString().c_str());
  if (producer_close.ok()) std::printf("producer %s\n", producer_close->ToString().c_str());
  std::printf("leaked threads: %zu\n", leaked);
  const bool ok =
      got == o.events && violations.load() == 0 && leaked == 0 && publish_errors.load() == 0;
  return ok ? kExitOk : kExitRuntime;
}

}  // namespace

void RegisterDemo(CLI::App& app, Action& run) {
  auto opts = std::make_shared<DemoOptions>();
  CLI::App* cmd = app.add_subcommand(
      "demo",
      "Run a producer bus and a consumer bus on the embedded memory broker (or the transport "
      "of --config) and report throughput, latency, ordering and the thread census.\n"
      "Examples:\n  evbus demo\n  evbus demo --events 1000000 --aggregates 100000\n");
  cmd->add_option("--events", opts->events, "Envelopes to publish")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{100'000'000}));
  cmd->add_option("--aggregates", opts->aggregates, "Distinct aggregate ids")
      ->capture_default_str()
      ->check(CLI::Range(1, 10'000'000));
  cmd->add_option("--payload-bytes", opts->payload_bytes, "Approximate payload size")
      ->capture_default_str()
      ->check(CLI::Range(16, 1 << 20));
  cmd->add_option("--workers", opts->workers, "Worker threads (0 = hardware threads)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1024));
  cmd->add_option("--config", opts->config_file, "YAML configuration file")
      ->check(CLI::ExistingFile);
  cmd->callback([&run, opts] { run = [opts] { return Run(*opts); }; });
}

}  // namespace evbus::cli
