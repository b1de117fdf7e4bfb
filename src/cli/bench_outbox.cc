// bench outbox: what the transactional outbox costs beside publishing
// straight to the broker, in one run on one transport and one database.
//   direct  N envelopes published through a bus, closed loop: msg/s from the
//           first publish to the last broker acknowledgement, and the
//           publish -> acknowledgement latency.
//   outbox  a writer thread commits the same N events with Outbox::Add, 100
//           rows per transaction on a connection of its own (as a service
//           would), while an OutboxRelay on a second bus publishes them and a
//           subscriber bus handles them: rows/s from the first commit to the
//           last broker acknowledgement, and commit -> handler latency (what
//           a consumer waits behind the service's commit). Order per
//           aggregate, duplicates and losses are checked at the subscriber.
// The outbox path runs twice: "drain" commits every row first and then
// times the relay (its rate from commit to broker acknowledgement, beside
// the direct rate: the ratio printed), "live" has a writer commit at half
// that rate while the relay runs (commit -> handler latency).
//
// The relay publishes every pending row it finds, so the database must hold
// no pending or dead rows but the bench's: rows of earlier bench runs (topics
// bench-outbox-*) are deleted first, the run's own at the end, and a SQLite
// file the bench created is removed.

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <thread>

#include "cli/bench.h"
#include "cli/bench_progress.h"
#include "cli/json_text.h"
#include "cli/log_linear_histogram.h"
#include "cli/outbox_writer.h"
#include "cli/workload_tally.h"
#include "core/thread.h"
#include "evbus/outbox.h"
#include "outbox/store.h"

namespace evbus::cli {
namespace {

constexpr int64_t kRowsPerCommit = 100;
constexpr std::string_view kWarmup = "warmup";  // the aggregate of the warm-up event
// A run in which nothing moved for this long has stalled: it stops, and
// what did not arrive counts as lost.
constexpr auto kStallLimit = std::chrono::seconds(60);

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Event i: aggregate agg-(i % A) at version i / A + 1, its number in the payload.
Envelope BenchEvent(const WorkloadOptions& o, int64_t i) {
  std::string payload = R"({"seq":)" + std::to_string(i) + R"(,"pad":")";
  payload.append(
      static_cast<size_t>(std::max(0, o.payload_bytes - static_cast<int>(payload.size()) - 2)),
      'x');
  payload += "\"}";
  return NewEnvelope("agg-" + std::to_string(i % o.aggregates), "BenchEvent", i / o.aggregates + 1,
                     std::move(payload));
}

Envelope WarmupEvent() { return NewEnvelope(std::string(kWarmup), "BenchWarmup", 1, "{}"); }

// The number of a received event, or -1 when it is none of the run's.
int64_t EventIndex(const WorkloadOptions& o, const Envelope& e) {
  const std::string_view id = e.aggregate_id;
  int64_t aggregate = -1;
  if (!id.starts_with("agg-") ||
      std::from_chars(id.data() + 4, id.data() + id.size(), aggregate).ec != std::errc() ||
      aggregate < 0 || aggregate >= o.aggregates || e.event_version < 1) {
    return -1;
  }
  const int64_t i = (e.event_version - 1) * o.aggregates + aggregate;
  return i < o.events ? i : -1;
}

struct Counts {
  int64_t acked = 0;     // broker acknowledgements (OK)
  int64_t failed = 0;    // publishes that completed with an error
  int64_t received = 0;  // distinct events handled
  bool warm = false;     // the warm-up event was acknowledged (direct) or handled (outbox)
};

// What a run counts on the bus's threads, and what the main thread waits on.
class RunState {
 public:
  explicit RunState(const WorkloadOptions& o)
      : o_(o),
        received_ns_(static_cast<size_t>(o.events)),
        last_version_(static_cast<size_t>(o.aggregates)) {}

  // One result per accepted publish (a PublishCallback, or the relay bus's
  // publish result callback).
  void Acked(const PublishResult& r, bool warmup_counts) {
    if (r.aggregate_id == kWarmup) {
      if (warmup_counts) Update([&] { counts_.warm = true; });
      return;
    }
    if (r.status.ok()) ack_latency_.Record((r.completed_at - r.published_at).count());
    Update([&] {
      ++(r.status.ok() ? counts_.acked : counts_.failed);
      if (r.status.ok() && counts_.acked == o_.events) last_ack_ = Clock::now();
    });
  }

  // The subscriber's handler: the first receipt of each event is timed;
  // later ones are duplicates; versions must follow each other per aggregate.
  void Received(const Envelope& e) {
    if (e.aggregate_id == kWarmup) return Update([&] { counts_.warm = true; });
    const int64_t i = EventIndex(o_, e);
    if (i < 0) {
      violations_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    int64_t unseen = 0;
    if (!received_ns_[static_cast<size_t>(i)].compare_exchange_strong(unseen, NowNs())) {
      duplicates_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    // One handler at a time per aggregate (per_key): no race on its slot.
    std::atomic<int64_t>& last = last_version_[static_cast<size_t>(i % o_.aggregates)];
    if (e.event_version != last.load(std::memory_order_relaxed) + 1) {
      violations_.fetch_add(1, std::memory_order_relaxed);
    }
    last.store(std::max(last.load(std::memory_order_relaxed), e.event_version),
               std::memory_order_relaxed);
    Update([&] { ++counts_.received; });
  }

  Counts counts() {
    std::lock_guard lock(mu_);
    return counts_;
  }
  // Waits up to `d` for `done`; returns the counts then.
  Counts WaitFor(const std::function<bool(const Counts&)>& done, std::chrono::milliseconds d) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, d, [&] { return done(counts_); });
    return counts_;
  }
  Clock::time_point last_ack() {
    std::lock_guard lock(mu_);
    return last_ack_;
  }

  // After the buses closed: what they wrote is final.
  const LogLinearHistogram& ack_latency() const { return ack_latency_; }
  int64_t received_ns(int64_t i) const {
    return received_ns_[static_cast<size_t>(i)].load(std::memory_order_relaxed);
  }
  int64_t duplicates() const { return duplicates_.load(); }
  int64_t violations() const { return violations_.load(); }

 private:
  // Waking the main thread costs; it also wakes each second on its own, so
  // only the changes it waits for at once (the warm-up, a target reached)
  // notify.
  void Update(const std::function<void()>& change) {
    bool wake;
    {
      std::lock_guard lock(mu_);
      const bool was_warm = counts_.warm;
      change();
      wake = counts_.warm != was_warm || counts_.received == o_.events ||
             counts_.acked == o_.events || counts_.acked + counts_.failed == o_.events;
    }
    if (wake) cv_.notify_all();
  }

  const WorkloadOptions& o_;
  std::vector<std::atomic<int64_t>> received_ns_;  // per event; 0 until received
  std::vector<std::atomic<int64_t>> last_version_;
  std::atomic<int64_t> duplicates_{0}, violations_{0};
  LogLinearHistogram ack_latency_;  // publish -> broker acknowledgement, ns
  std::mutex mu_;
  std::condition_variable cv_;
  Counts counts_;
  Clock::time_point last_ack_{};
};

// Waits until `done`, or until nothing moved for kStallLimit, or `abandon`;
// each second updates the progress line with `shown` and the timeline.
Counts WaitForRun(RunState& state, Progress& progress, Clock::time_point start,
                  const std::function<bool(const Counts&)>& done,
                  const std::function<int64_t(const Counts&)>& shown,
                  const std::function<bool()>& abandon, WorkloadResult& r) {
  Counts c = state.counts();
  int64_t last_moved = -1;
  auto last_move = Clock::now();
  while (!done(c) && !abandon()) {
    c = state.WaitFor(done, std::chrono::seconds(1));
    progress.Update(shown(c));
    r.timeline.emplace_back(Seconds(Clock::now() - start), shown(c));
    const int64_t moved = c.acked + c.failed + c.received;
    if (moved != last_moved) {
      last_moved = moved;
      last_move = Clock::now();
    } else if (Clock::now() - last_move > kStallLimit) {
      break;
    }
  }
  return c;
}

Status WaitForWarmup(RunState& state, const char* what) {
  const Counts c = state.WaitFor([](const Counts& n) { return n.warm; }, std::chrono::seconds(60));
  if (c.warm) return Status::Ok();
  return Status(ErrorCode::kTimeout, std::string("warm-up: ") + what + " in 60 s");
}

// Publishing straight through a bus: N envelopes, closed loop (the bus's
// publisher.max_in_flight holds the loop back).
Result<WorkloadResult> RunDirect(const WorkloadOptions& o) {
  WorkloadResult r;
  RunState state(o);
  const size_t threads_before = CountProcessThreads();
  Result<std::unique_ptr<EventBus>> bus = EventBus::Create(o.config);
  if (!bus.ok()) return bus.status();
  const PublishCallback done = [&state](const PublishResult& p) { state.Acked(p, true); };
  // The producer's connection and the topic's metadata (on Kafka, its
  // creation) are paid once by a service, not per event.
  if (Status s = (*bus)->PublishEnvelope(o.topic, WarmupEvent(), done); !s.ok()) return s;
  if (Status s = WaitForWarmup(state, "the broker did not acknowledge the first publish");
      !s.ok()) {
    return s;
  }
  Progress progress("direct publish", o.events);
  const double cpu_start = ProcessCpuSeconds();
  const auto start = Clock::now();
  for (int64_t i = 0; i < o.events; ++i) {
    if (Status s = (*bus)->PublishEnvelope(o.topic, BenchEvent(o, i), done); !s.ok()) {
      return Status(s.code(), "direct publish of event " + std::to_string(i) + ": " + s.message());
    }
    if (i == o.events / 2) r.threads_running = CountProcessThreads();
    if (i % std::max<int64_t>(1, o.events / 100) == 0) progress.Update(state.counts().acked);
  }
  const Counts c = WaitForRun(
      state, progress, start, [&](const Counts& n) { return n.acked + n.failed >= o.events; },
      [](const Counts& n) { return n.acked; }, [] { return false; }, r);
  const auto end = c.acked == o.events ? state.last_ack() : Clock::now();
  const double cpu = ProcessCpuSeconds() - cpu_start;
  const auto close_start = Clock::now();
  (void)(*bus)->Close();
  r.close_ms = Seconds(Clock::now() - close_start) * 1e3;
  bus->reset();
  r.leaked_threads =
      static_cast<int64_t>(CountProcessThreads()) - static_cast<int64_t>(threads_before);
  r.published = o.events;
  r.received = c.acked;
  r.lost = o.events - c.acked;
  r.publish_errors = c.failed;
  r.seconds = Seconds(end - start);
  r.throughput = r.seconds > 0 ? static_cast<double>(c.acked) / r.seconds : 0;
  r.cpu_us_per_msg = c.acked > 0 ? cpu * 1e6 / static_cast<double>(c.acked) : 0;
  r.peak_rss_kb = PeakRssKb();
  r.timeline.emplace_back(r.seconds, c.acked);
  FillLatency(state.ack_latency(), r);
  return r;
}

// The service's side: transactions of kRowsPerCommit rows, each row an
// Outbox::Add, as fast as the database takes them or at `rows_per_second`
// (a paced writer: the transaction's due time, not the previous commit,
// sets the next, so a slow commit is not hidden).
struct Writer {
  std::atomic<bool> stop{false};
  std::atomic<bool> finished{false};
  Status status;                   // read after Join
  std::vector<int64_t> commit_ns;  // per transaction: when its COMMIT returned
  Clock::time_point first_commit{}, last_commit{};

  void Run(OutboxWriter& db, const WorkloadOptions& o, double rows_per_second) {
    const int64_t transactions = (o.events + kRowsPerCommit - 1) / kRowsPerCommit;
    commit_ns.assign(static_cast<size_t>(transactions), 0);
    const auto start = Clock::now();
    for (int64_t tx = 0; tx < transactions && !stop.load(); ++tx) {
      if (rows_per_second > 0) {
        std::this_thread::sleep_until(
            start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
                        static_cast<double>(tx * kRowsPerCommit) / rows_per_second)));
      }
      Status s = db.Begin();
      const int64_t end = std::min(o.events, (tx + 1) * kRowsPerCommit);
      for (int64_t i = tx * kRowsPerCommit; s.ok() && i < end; ++i) {
        s = db.Add(o.topic, BenchEvent(o, i));
      }
      if (s.ok()) s = db.Commit();
      if (!s.ok()) {
        db.Rollback();
        status = Status(s.code(), "writer, transaction " + std::to_string(tx) + ": " + s.message());
        break;
      }
      const auto now = Clock::now();
      commit_ns[static_cast<size_t>(tx)] = now.time_since_epoch().count();
      if (tx == 0) first_commit = now;
      last_commit = now;
    }
    finished.store(true);
  }
};

struct OutboxRun {
  WorkloadResult result;
  double writer_seconds = 0;
  OutboxRelayStats relay;
};

// How the writer and the relay meet.
struct OutboxMode {
  // Drain: every row is committed before the relay starts, so rows/s is the
  // relay's own rate from commit to broker acknowledgement (the writer's
  // speed is the database's, not the outbox's).
  bool drain = false;
  double rows_per_second = 0;  // live: the writer's pace (0: flat out)
};

Result<OutboxRun> RunOutboxPath(const BenchOptions& b, const WorkloadOptions& o, OutboxWriter& db,
                                OutboxMode mode) {
  OutboxRun run;
  WorkloadResult& r = run.result;
  RunState state(o);
  const size_t threads_before = CountProcessThreads();
  Result<std::unique_ptr<EventBus>> subscriber = EventBus::Create(o.config);
  if (!subscriber.ok()) return subscriber.status();
  Status s =
      (*subscriber)->SubscribeEnvelope(o.topic, [&state](const Envelope& e, const Delivery&) {
        state.Received(e);
        return Status::Ok();
      });
  if (s.ok()) s = (*subscriber)->Start();
  if (!s.ok()) return s;
  Result<std::unique_ptr<EventBus>> relay_bus = EventBus::Create(o.config);
  if (!relay_bus.ok()) return relay_bus.status();
  s = (*relay_bus)->SetPublishResultCallback([&state](const PublishResult& p) {
    state.Acked(p, false);
  });
  if (!s.ok()) return s;
  // Through the relay's bus, to the subscriber: the group has joined and the
  // producer has its metadata before the clock starts.
  if (s = (*relay_bus)->PublishEnvelope(o.topic, WarmupEvent()); !s.ok()) return s;
  if (s = WaitForWarmup(state, "the subscriber did not receive the first event"); !s.ok()) return s;

  Writer writer;
  core::Thread writing;
  auto start_writer = [&] {
    writing = core::Thread::Start("evb-bench-wr", "bench-outbox-writer", 0,
                                  [&] { writer.Run(db, o, mode.rows_per_second); });
  };
  if (mode.drain) {
    start_writer();
    writing.Join();
    if (!writer.status.ok()) return writer.status;
  }
  OutboxRelayOptions relay_options;
  relay_options.database = b.db;
  relay_options.batch_size = b.batch;
  Progress progress(mode.drain ? "outbox drain (received)" : "outbox live (received)", o.events);
  const double cpu_start = ProcessCpuSeconds();
  const auto start = Clock::now();
  Result<std::unique_ptr<OutboxRelay>> relay = OutboxRelay::Start(**relay_bus, relay_options);
  if (!relay.ok()) return relay.status();
  if (!mode.drain) start_writer();
  r.threads_running = CountProcessThreads();  // every thread of the run is up now
  const Counts c = WaitForRun(
      state, progress, start,
      [&](const Counts& n) { return n.acked >= o.events && n.received >= o.events; },
      [](const Counts& n) { return n.received; },
      [&] { return writer.finished.load() && !writer.status.ok(); }, r);
  writer.stop.store(true);
  if (writing.joinable()) writing.Join();
  const auto end = c.acked >= o.events ? state.last_ack() : Clock::now();
  const double cpu = ProcessCpuSeconds() - cpu_start;
  // The relay before its bus: it waits for its last round's acknowledgements.
  (*relay)->Close();
  run.relay = (*relay)->stats();
  relay->reset();
  (void)(*relay_bus)->Close();
  const auto close_start = Clock::now();
  (void)(*subscriber)->Close();
  r.close_ms = Seconds(Clock::now() - close_start) * 1e3;
  relay_bus->reset();
  subscriber->reset();
  r.leaked_threads =
      static_cast<int64_t>(CountProcessThreads()) - static_cast<int64_t>(threads_before);
  if (!writer.status.ok()) return writer.status;

  // Commit -> handler, from the times kept: the payload need not carry them.
  // A row can reach the handler a moment before its writer has read the
  // clock after COMMIT: that latency counts as 0.
  LogLinearHistogram latency;
  for (int64_t i = 0; i < o.events; ++i) {
    const int64_t received = state.received_ns(i);
    if (received == 0) continue;
    const int64_t committed = writer.commit_ns[static_cast<size_t>(i / kRowsPerCommit)];
    latency.Record(std::max<int64_t>(0, received - committed));
  }
  FillLatency(latency, r);
  run.writer_seconds = Seconds(writer.last_commit - writer.first_commit);
  r.published = o.events;
  r.received = c.received;
  r.lost = o.events - c.received;
  r.duplicates = state.duplicates();
  r.violations = state.violations();
  r.publish_errors = static_cast<int64_t>(run.relay.went_dead);
  r.seconds = Seconds(end - (mode.drain ? start : writer.first_commit));
  r.throughput = r.seconds > 0 ? static_cast<double>(std::min(c.acked, o.events)) / r.seconds : 0;
  r.cpu_us_per_msg = c.received > 0 ? cpu * 1e6 / static_cast<double>(c.received) : 0;
  r.peak_rss_kb = PeakRssKb();
  r.timeline.emplace_back(Seconds(end - start), c.received);
  return run;
}

// Migrates, deletes what earlier bench runs left, and refuses a database
// holding rows of others: the bench's relay would publish them.
Status PrepareDatabase(const std::string& url, OutboxWriter& db) {
  if (Status s = Outbox::Migrate(url); !s.ok()) return s;
  Result<int64_t> left = db.Exec("DELETE FROM evbus_outbox WHERE topic LIKE 'bench-outbox-%'");
  if (!left.ok()) return left.status();
  Result<OutboxStatus> status = ReadOutboxStatus(url);
  if (!status.ok()) return status.status();
  if (status->pending + status->dead > 0) {
    return FailedPrecondition(
        "holds " + std::to_string(status->pending) + " pending and " +
        std::to_string(status->dead) +
        " dead row(s) of other topics, which the bench's relay would publish: give the bench a "
        "database of its own");
  }
  return Status::Ok();
}

// The SQLite file a URL names when it is a plain path (not a file: URI or
// an in-memory database); empty otherwise.
std::string SqlitePath(const std::string& url) {
  Result<outbox::DatabaseUrl> parsed = outbox::ParseDatabaseUrl(url);
  if (!parsed.ok() || parsed->kind != outbox::DatabaseUrl::kSqlite || parsed->lock_path.empty() ||
      parsed->target.starts_with("file:")) {
    return "";
  }
  return parsed->target;
}

void RemoveSqliteFiles(const std::string& path) {
  for (const char* suffix : {"", "-wal", "-shm", "-journal", "-evbus-relay.lock"}) {
    std::error_code ignored;
    std::filesystem::remove(path + suffix, ignored);
  }
}

std::string RunJson(const BenchOptions& b, const WorkloadOptions& o, const char* path) {
  return JsonObject()
      .Add("path", path)
      .Add("events", o.events)
      .Add("aggregates", o.aggregates)
      .Add("payload_bytes", o.payload_bytes)
      .Add("rows_per_commit", kRowsPerCommit)
      .Add("relay_batch", b.batch)
      .str();
}

bool Fail(const char* what, const std::string& url, const Status& s) {
  std::fprintf(stderr, "evbus bench outbox: %s: --db %s: %s\n", what,
               RedactDatabaseUrl(url).c_str(), s.ToString().c_str());
  return false;
}

}  // namespace

bool RunOutbox(const BenchOptions& b, WorkloadOptions base, BenchReport& report) {
  const std::string sqlite_path = SqlitePath(b.db);
  const bool created_file = !sqlite_path.empty() && !std::filesystem::exists(sqlite_path);
  Result<std::unique_ptr<OutboxWriter>> db = OutboxWriter::Open(b.db);
  if (!db.ok()) return Fail("open", b.db, db.status());
  // Whatever happens next, a file the bench made goes with it.
  struct Cleanup {
    std::unique_ptr<OutboxWriter>& db;
    std::string topic;
    std::string path;
    ~Cleanup() {
      if (db && !topic.empty()) {
        (void)db->Exec("DELETE FROM evbus_outbox WHERE topic LIKE '" + topic + "%'");
      }
      db.reset();
      if (!path.empty()) RemoveSqliteFiles(path);
    }
  } cleanup{*db, "", created_file ? sqlite_path : ""};
  if (Status s = PrepareDatabase(b.db, **db); !s.ok()) return Fail("prepare", b.db, s);

  const std::string run_id = RunSuffix();
  base.topic = "bench-outbox" + run_id;
  cleanup.topic = base.topic;
  char line[400];
  std::snprintf(line, sizeof(line),
                "outbox: %lld events of %d bytes, %d aggregates; writer: transactions of %lld "
                "rows; relay: batches of up to %d; transport %s; database %s",
                static_cast<long long>(base.events), base.payload_bytes, base.aggregates,
                static_cast<long long>(kRowsPerCommit), b.batch, report.transport().c_str(),
                RedactDatabaseUrl(b.db).c_str());
  report.Note(line);

  WorkloadOptions direct = base;
  direct.topic = base.topic + "-direct";
  const long rss_before = CurrentRssKb();
  Result<WorkloadResult> direct_result = RunDirect(direct);
  if (!direct_result.ok()) return Fail("direct publish", b.db, direct_result.status());
  report.Add({"direct (latency publish->ack)", true, RunJson(b, direct, "direct"), 0,
              *direct_result, rss_before, CurrentRssKb(), 0});

  // The relay's own rate: everything committed first, then drained.
  WorkloadOptions drain_options = base;
  drain_options.topic = base.topic + "-drain";
  drain_options.config.subscriber.group = drain_options.topic;
  const long rss_before_drain = CurrentRssKb();
  Result<OutboxRun> drain = RunOutboxPath(b, drain_options, **db, {.drain = true});
  if (!drain.ok()) return Fail("outbox drain", b.db, drain.status());
  report.Add({"outbox drain (commit->ack)", false, RunJson(b, drain_options, "outbox-drain"), 0,
              drain->result, rss_before_drain, CurrentRssKb(), 0});

  // Commit -> handler while a writer commits at half the drain rate (at most
  // the database's own pace): the latency a consumer sees behind a commit.
  WorkloadOptions live_options = base;
  live_options.topic = base.topic + "-live";
  live_options.config.subscriber.group = live_options.topic;
  const double writer_rate =
      drain->writer_seconds > 0 ? static_cast<double>(base.events) / drain->writer_seconds : 0.0;
  double pace = drain->result.throughput / 2;
  if (writer_rate > 0) pace = std::min(pace, writer_rate / 2);
  const long rss_before_outbox = CurrentRssKb();
  Result<OutboxRun> outbox = RunOutboxPath(b, live_options, **db, {.rows_per_second = pace});
  if (!outbox.ok()) return Fail("outbox", b.db, outbox.status());
  report.Add({"outbox live (commit->handler)", false, RunJson(b, live_options, "outbox-live"), 0,
              outbox->result, rss_before_outbox, CurrentRssKb(), 0});

  const WorkloadResult& d = *direct_result;
  const WorkloadResult& x = outbox->result;
  const OutboxRelayStats& relay = drain->relay;
  std::snprintf(
      line, sizeof(line),
      "outbox writer alone: %lld rows committed in %.2f s (%.0f rows/s); drain relay: %llu "
      "rounds (%.0f rows each), %llu failed publish(es)",
      static_cast<long long>(base.events), drain->writer_seconds, writer_rate,
      static_cast<unsigned long long>(relay.rounds),
      relay.rounds > 0 ? static_cast<double>(relay.published) / static_cast<double>(relay.rounds)
                       : 0.0,
      static_cast<unsigned long long>(relay.failed_attempts));
  report.Note(line);
  std::snprintf(line, sizeof(line),
                "outbox commit -> handler at %.0f rows/s: p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, "
                "max %.2f ms (relay poll_interval 20 ms)",
                pace, x.p50_us / 1e3, x.p99_us / 1e3, x.p999_us / 1e3, x.max_us / 1e3);
  report.Note(line);
  std::snprintf(line, sizeof(line),
                "outbox / direct: %.2fx (outbox drain %.0f rows/s, relay start -> last broker ack "
                "of rows committed before; direct %.0f msg/s, first publish -> last ack)",
                d.throughput > 0 ? drain->result.throughput / d.throughput : 0.0,
                drain->result.throughput, d.throughput);
  report.Note(line);
  return d.lost == 0 && drain->result.lost == 0 && x.lost == 0;
}

}  // namespace evbus::cli
