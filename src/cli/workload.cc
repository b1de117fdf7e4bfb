#include "cli/workload.h"

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#include "transport/transport.h"

namespace evbus::cli {
namespace {

using Clock = std::chrono::steady_clock;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

// Everything a run measures, shared by the handler threads and the producer.
class Tally {
 public:
  explicit Tally(const WorkloadOptions& o)
      : o_(o),
        seen_(static_cast<size_t>(o.events)),
        last_(static_cast<size_t>(o.aggregates)),
        latency_ns_(static_cast<size_t>(o.events)) {}

  // Called once per delivery of event `index` of `aggregate` at `version`.
  void Received(int64_t index, int64_t aggregate, int64_t version, int64_t latency_ns) {
    if (index < 0 || index >= o_.events || aggregate < 0 || aggregate >= o_.aggregates) {
      violations_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    if (seen_[static_cast<size_t>(index)].exchange(1, std::memory_order_relaxed) != 0) {
      duplicates_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    std::atomic<int64_t>& last = last_[static_cast<size_t>(aggregate)];
    const int64_t prev = last.load(std::memory_order_relaxed);
    if (version != prev + 1) violations_.fetch_add(1, std::memory_order_relaxed);
    if (version > prev) last.store(version, std::memory_order_relaxed);
    const int64_t n = received_.fetch_add(1, std::memory_order_acq_rel) + 1;
    latency_ns_[static_cast<size_t>(n - 1)] = latency_ns;
    if (n == o_.events || producer_waiting_.load(std::memory_order_acquire)) {
      std::lock_guard<std::mutex> lock(mu_);
      if (n == o_.events) end_ = Clock::now();
      cv_.notify_all();
    }
  }

  // Producer side: waits while too much is outstanding.
  void WaitForRoom(int64_t published) {
    if (published - received_.load(std::memory_order_acquire) < o_.max_outstanding) return;
    std::unique_lock<std::mutex> lock(mu_);
    producer_waiting_.store(true, std::memory_order_release);
    cv_.wait_for(lock, std::chrono::seconds(30), [&] {
      return published - received_.load(std::memory_order_acquire) < o_.max_outstanding / 2;
    });
    producer_waiting_.store(false, std::memory_order_release);
  }

  // Waits for the last event, at most `timeout`. Returns the receive end time.
  Clock::time_point WaitForAll(std::chrono::seconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return received_.load() >= o_.events; });
    return received_.load() >= o_.events ? end_ : Clock::now();
  }

  void Fill(WorkloadResult& r, Clock::time_point start, Clock::time_point end) {
    r.received = received_.load();
    r.violations = violations_.load();
    r.duplicates = duplicates_.load();
    r.lost = std::max<int64_t>(0, o_.events - r.received);
    r.seconds = std::chrono::duration<double>(end - start).count();
    r.throughput = r.seconds > 0 ? static_cast<double>(r.received) / r.seconds : 0;
    std::vector<int64_t> lat(latency_ns_.begin(),
                             latency_ns_.begin() + std::min(r.received, o_.events));
    std::sort(lat.begin(), lat.end());
    auto pct = [&](double q) {
      if (lat.empty()) return 0.0;
      const size_t i =
          std::min(lat.size() - 1, static_cast<size_t>(q * static_cast<double>(lat.size())));
      return static_cast<double>(lat[i]) / 1000.0;
    };
    r.p50_us = pct(0.50);
    r.p90_us = pct(0.90);
    r.p99_us = pct(0.99);
    r.p999_us = pct(0.999);
    r.max_us = lat.empty() ? 0 : static_cast<double>(lat.back()) / 1000.0;
  }

 private:
  const WorkloadOptions& o_;
  std::vector<std::atomic<uint8_t>> seen_;
  std::vector<std::atomic<int64_t>> last_;
  std::vector<int64_t> latency_ns_;
  std::atomic<int64_t> received_{0}, violations_{0}, duplicates_{0};
  std::atomic<bool> producer_waiting_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  Clock::time_point end_{};
};

// Raw payload: [send time ns][event index][padding]; envelope payload: JSON.
std::string RawPayload(int64_t index, int bytes) {
  std::string p(static_cast<size_t>(std::max(bytes, 16)), 'x');
  const int64_t now = NowNs();
  std::memcpy(p.data(), &now, 8);
  std::memcpy(p.data() + 8, &index, 8);
  return p;
}

std::string JsonPayload(int64_t index, int bytes) {
  std::string p = R"({"seq":)" + std::to_string(index) + R"(,"pad":")";
  p.append(static_cast<size_t>(std::max(0, bytes - static_cast<int>(p.size()) - 2)), 'x');
  p += "\"}";
  return p;
}

int64_t ParseTrailingInt(std::string_view s, size_t from) {
  int64_t n = -1;
  if (from <= s.size()) std::from_chars(s.data() + from, s.data() + s.size(), n);
  return n;
}

// Event i goes to aggregate i % K as version i / K + 1.
Record MakeRecord(const WorkloadOptions& o, int64_t i, Envelope* envelope_out) {
  const int64_t aggregate = i % o.aggregates;
  const int64_t version = i / o.aggregates + 1;
  Record r;
  r.topic = o.topic;
  r.key = "agg-" + std::to_string(aggregate);
  if (envelope_out != nullptr) {
    *envelope_out = NewEnvelope(r.key, "BenchEvent", version, JsonPayload(i, o.payload_bytes));
  } else {
    r.payload = RawPayload(i, o.payload_bytes);
  }
  return r;
}

void HandleEnvelope(Tally& tally, const WorkloadOptions& o, const Envelope& e) {
  const int64_t latency = (std::chrono::system_clock::now() - e.timestamp.time).count();
  const int64_t aggregate = ParseTrailingInt(e.aggregate_id, 4);
  tally.Received((e.event_version - 1) * o.aggregates + aggregate, aggregate, e.event_version,
                 latency);
}

void HandleRaw(Tally& tally, const WorkloadOptions& o, const Record& r) {
  int64_t sent = 0, index = -1;
  if (r.payload.size() >= 16) {
    std::memcpy(&sent, r.payload.data(), 8);
    std::memcpy(&index, r.payload.data() + 8, 8);
  }
  tally.Received(index, index % o.aggregates, index / o.aggregates + 1, NowNs() - sent);
}

}  // namespace

long PeakRssKb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

Result<WorkloadResult> RunWorkload(const WorkloadOptions& o) {
  WorkloadResult result;
  Tally tally(o);
  auto census = [&](const char* name) {
    if (o.census_phases) result.phases.push_back({name, TakeCensus()});
  };
  census("start");
  const size_t threads_before = CountProcessThreads();
  Result<std::unique_ptr<EventBus>> producer = EventBus::Create(o.config);
  if (!producer.ok()) return producer.status();
  Result<std::unique_ptr<EventBus>> consumer = EventBus::Create(o.config);
  if (!consumer.ok()) return consumer.status();
  census("create");

  SubscribeOptions sub;
  sub.ordering = o.ordering;
  Status s = o.envelopes ? (*consumer)->SubscribeEnvelope(
                               o.topic,
                               [&](const Envelope& e, const Delivery& d) {
                                 if (o.handler_sleep.count() > 0) d.cancel.WaitFor(o.handler_sleep);
                                 HandleEnvelope(tally, o, e);
                                 return Status();
                               },
                               sub)
                         : (*consumer)->Subscribe(
                               o.topic,
                               [&](const Record& r, const Delivery& d) {
                                 if (o.handler_sleep.count() > 0) d.cancel.WaitFor(o.handler_sleep);
                                 HandleRaw(tally, o, r);
                                 return Status();
                               },
                               sub);
  if (!s.ok()) return s;
  if (s = (*consumer)->Start(); !s.ok()) return s;
  census("subscribe");

  std::atomic<int64_t> publish_errors{0};
  PublishCallback on_done = [&](const PublishResult& r) {
    if (!r.status.ok()) publish_errors.fetch_add(1, std::memory_order_relaxed);
  };
  const auto start = Clock::now();
  for (int64_t i = 0; i < o.events; ++i) {
    tally.WaitForRoom(i);
    Envelope e;
    Record r = MakeRecord(o, i, o.envelopes ? &e : nullptr);
    s = o.envelopes ? (*producer)->PublishEnvelope(o.topic, e, on_done)
                    : (*producer)->Publish(std::move(r), on_done);
    if (!s.ok()) return s;
    if (i == o.events / 2) {
      result.threads_running = CountProcessThreads();
      census("load");
    }
  }
  result.published = o.events;
  const auto end = tally.WaitForAll(std::chrono::seconds(120));
  tally.Fill(result, start, end);

  const auto close_start = Clock::now();
  Result<CloseReport> closed = (*consumer)->Close();
  result.close_ms = std::chrono::duration<double, std::milli>(Clock::now() - close_start).count();
  if (closed.ok()) result.close_report = closed->ToString();
  Result<CloseReport> producer_closed = (*producer)->Close();
  (void)producer_closed;
  census("close");
  result.leaked_threads = CountProcessThreads() - threads_before;
  result.publish_errors = publish_errors.load();
  result.peak_rss_kb = PeakRssKb();
  return result;
}

Result<WorkloadResult> RunRawMemory(const WorkloadOptions& o) {
  WorkloadResult result;
  Tally tally(o);
  Result<std::unique_ptr<transport::Transport>> t = transport::CreateTransport(o.config, 0);
  if (!t.ok()) return t.status();
  if (Status s = (*t)->EnsureTopic(o.topic); !s.ok()) return s;
  Result<std::unique_ptr<transport::Producer>> producer = (*t)->CreateProducer();
  if (!producer.ok()) return producer.status();
  Result<std::unique_ptr<transport::Consumer>> consumer = (*t)->CreateConsumer("raw-baseline");
  if (!consumer.ok()) return consumer.status();
  if (Status s = (*consumer)->Subscribe({o.topic}, nullptr); !s.ok()) return s;

  std::atomic<bool> stop{false};
  // The baseline's one consumer thread: poll, decode, check, commit.
  std::thread reader([&] {
    std::vector<transport::RecordPtr> batch;
    Envelope e;
    std::map<transport::TopicPartition, int64_t> next;
    while (!stop.load(std::memory_order_acquire)) {
      batch.clear();
      Status s = (*consumer)->Poll(batch, 500, std::chrono::milliseconds(20));
      (void)s;
      for (const transport::RecordPtr& r : batch) {
        if (o.envelopes) {
          if (DecodeEnvelopeInto(r->payload, e).ok()) HandleEnvelope(tally, o, e);
        } else {
          HandleRaw(tally, o, *r);
        }
        next[{r->topic, r->partition}] = r->offset + 1;
      }
      std::vector<transport::CommitOffset> offsets;
      for (const auto& [tp, off] : next) offsets.push_back({tp, off});
      if (!offsets.empty()) s = (*consumer)->Commit(offsets, false);
    }
  });
  std::atomic<int64_t> publish_errors{0};
  const auto start = Clock::now();
  for (int64_t i = 0; i < o.events; ++i) {
    tally.WaitForRoom(i);
    Envelope e;
    Record r = MakeRecord(o, i, o.envelopes ? &e : nullptr);
    if (o.envelopes) {
      if (Status s = EncodeEnvelope(e, r.payload); !s.ok()) return s;
    }
    Status s = (*producer)->Produce(std::move(r), [&](const Status& st, int32_t, int64_t) {
      if (!st.ok()) publish_errors.fetch_add(1, std::memory_order_relaxed);
    });
    if (!s.ok()) publish_errors.fetch_add(1, std::memory_order_relaxed);
    if (i == o.events / 2) result.threads_running = CountProcessThreads();
  }
  result.published = o.events;
  const auto end = tally.WaitForAll(std::chrono::seconds(120));
  stop.store(true, std::memory_order_release);
  (*consumer)->Wakeup();
  reader.join();
  tally.Fill(result, start, end);
  (void)(*consumer)->Close(Clock::now() + std::chrono::seconds(5));
  (*producer)->Close(Clock::now());
  result.publish_errors = publish_errors.load();
  result.peak_rss_kb = PeakRssKb();
  return result;
}

}  // namespace evbus::cli
