#include "cli/workload.h"

#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>

#include "cli/workload_tally.h"
#include "core/thread.h"
#include "transport/transport.h"

namespace evbus::cli {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

long PeakRssKb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

long CurrentRssKb() {
  long pages = 0, resident = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

size_t HeapInUseBytes() {
  const struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;
}

std::vector<std::string> WorkloadTopics(const WorkloadOptions& o) {
  if (o.topics <= 1) return {o.topic};
  std::vector<std::string> topics;
  for (int t = 0; t < o.topics; ++t) topics.push_back(o.topic + "-" + std::to_string(t));
  return topics;
}

std::string WorkloadTopic(const WorkloadOptions& o, int64_t aggregate) {
  return o.topics <= 1 ? o.topic : o.topic + "-" + std::to_string(aggregate % o.topics);
}

int32_t WorkloadPartitions(const Config& config) {
  switch (config.transport) {
    case TransportKind::kKafka:
      return config.kafka.topic_partitions;
    case TransportKind::kNats:
      return config.nats.layout == NatsLayout::kJxt ? 1 : config.nats.partitions;
    case TransportKind::kMemory:
      break;
  }
  return config.memory.partitions;
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
  const EnvelopeHandler on_envelope = [&](const Envelope& e, const Delivery& d) {
    if (o.handler_sleep.count() > 0) d.cancel.WaitFor(o.handler_sleep);
    TallyEnvelope(tally, o, e);
    return Status();
  };
  const RecordHandler on_record = [&](const Record& r, const Delivery& d) {
    if (o.handler_sleep.count() > 0) d.cancel.WaitFor(o.handler_sleep);
    TallyRaw(tally, o, r);
    return Status();
  };
  Status s;
  for (const std::string& topic : WorkloadTopics(o)) {
    s = o.envelopes ? (*consumer)->SubscribeEnvelope(topic, on_envelope, sub)
                    : (*consumer)->Subscribe(topic, on_record, sub);
    if (!s.ok()) return s;
  }
  if (s = (*consumer)->Start(); !s.ok()) return s;
  census("subscribe");

  // No per-publish callback: failures are counted by the bus (stats), as
  // the raw baselines count theirs, so neither side pays for results.
  s = PublishWarmups(o, tally, [&](Record& r, Envelope* e) {
    return e != nullptr ? (*producer)->PublishEnvelope(r.topic, *e)
                        : (*producer)->Publish(std::move(r));
  });
  if (!s.ok()) return s;
  const auto start = tally.Start();
  for (int64_t i = 0; i < o.events; ++i) {
    tally.WaitForTurn(i);
    Envelope e;
    Record r = MakeWorkloadRecord(o, i, o.envelopes ? &e : nullptr);
    s = o.envelopes ? (*producer)->PublishEnvelope(r.topic, e) : (*producer)->Publish(std::move(r));
    if (!s.ok()) return s;
    tally.Tick(i, start, result);
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
  (void)producer_closed;  // after Close, every publish has completed: the count is final
  result.publish_errors = static_cast<int64_t>((*producer)->stats().published_failed);
  census("close");
  result.leaked_threads =
      static_cast<int64_t>(CountProcessThreads()) - static_cast<int64_t>(threads_before);
  if (o.threads_after_2s) {
    std::this_thread::sleep_for(std::chrono::seconds(2));  // the measurement, not a wait
    result.leaked_threads_2s =
        static_cast<int64_t>(CountProcessThreads()) - static_cast<int64_t>(threads_before);
  }
  result.peak_rss_kb = PeakRssKb();
  return result;
}

Result<WorkloadResult> RunRawBaseline(const WorkloadOptions& o) {
  switch (o.config.transport) {
    case TransportKind::kMemory:
      return RunRawMemory(o);
    case TransportKind::kKafka:
#ifdef EVBUS_WITH_KAFKA
      return RunRawKafka(o);
#else
      break;
#endif
    case TransportKind::kNats:
#ifdef EVBUS_WITH_NATS
      return RunRawNats(o);
#else
      break;
#endif
  }
  return Status(ErrorCode::kNotImplemented,
                "no raw baseline for transport " + std::string(ToString(o.config.transport)));
}

Result<WorkloadResult> RunRawMemory(const WorkloadOptions& o) {
  WorkloadResult result;
  Tally tally(o);
  Result<std::unique_ptr<transport::Transport>> t = transport::CreateTransport(o.config, 0);
  if (!t.ok()) return t.status();
  for (const std::string& topic : WorkloadTopics(o)) {
    if (Status s = (*t)->EnsureTopic(topic); !s.ok()) return s;
  }
  Result<std::unique_ptr<transport::Producer>> producer = (*t)->CreateProducer();
  if (!producer.ok()) return producer.status();
  Result<std::unique_ptr<transport::Consumer>> consumer = (*t)->CreateConsumer("raw-baseline");
  if (!consumer.ok()) return consumer.status();
  if (Status s = (*consumer)->Subscribe(WorkloadTopics(o), nullptr); !s.ok()) return s;

  std::atomic<bool> stop{false};
  // The baseline's one consumer thread: poll, decode, check, commit.
  core::Thread reader = core::Thread::Start("evb-raw-read", "bench-baseline", 0, [&] {
    std::vector<transport::RecordPtr> batch;
    Envelope e;
    std::map<transport::TopicPartition, int64_t> next;
    while (!stop.load(std::memory_order_acquire)) {
      batch.clear();
      Status s = (*consumer)->Poll(batch, 500, std::chrono::milliseconds(20));
      (void)s;
      for (const transport::RecordPtr& r : batch) {
        if (o.envelopes) {
          if (DecodeEnvelopeInto(r->payload, e).ok()) TallyEnvelope(tally, o, e);
        } else {
          TallyRaw(tally, o, *r);
        }
        next[{r->topic, r->partition}] = r->offset + 1;
      }
      std::vector<transport::CommitOffset> offsets;
      for (const auto& [tp, off] : next) offsets.push_back({tp, off});
      if (!offsets.empty()) s = (*consumer)->Commit(offsets, std::nullopt);
    }
  });
  std::atomic<int64_t> publish_errors{0};
  Clock::time_point start;
  const Status failed = PublishRawWorkload(o, tally, result, start, [&](int64_t, Record& r) {
    Status s = (*producer)->Produce(std::move(r), [&](const Status& st, int32_t, int64_t) {
      if (!st.ok()) publish_errors.fetch_add(1, std::memory_order_relaxed);
    });
    if (!s.ok()) publish_errors.fetch_add(1, std::memory_order_relaxed);
  });
  const auto end =
      failed.ok() ? tally.WaitForAll(std::chrono::seconds(120)) : std::chrono::steady_clock::now();
  stop.store(true, std::memory_order_release);
  (*consumer)->Wakeup();
  reader.Join();
  tally.Fill(result, start, end);
  (void)(*consumer)->Close(Clock::now() + std::chrono::seconds(5));
  (*producer)->Close(Clock::now());
  result.publish_errors = publish_errors.load();
  result.peak_rss_kb = PeakRssKb();
  if (!failed.ok()) return failed;
  return result;
}

}  // namespace evbus::cli
