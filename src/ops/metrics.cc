#include "ops/metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <prometheus/collectable.h>
#include <prometheus/exposer.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <exception>
#include <limits>
#include <mutex>

#include "core/thread.h"

namespace evbus::ops {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::vector<ClientMetric::Label>;

class Families {
 public:
  explicit Families(const MetricsInput& in) : base_{{"service", in.service}} {}

  void Counter(const std::string& name, const std::string& help, double value,
               const Labels& labels = {}) {
    ClientMetric m = Metric(labels);
    m.counter.value = value;
    Add(name, help, MetricType::Counter, std::move(m));
  }
  void Gauge(const std::string& name, const std::string& help, double value,
             const Labels& labels = {}) {
    ClientMetric m = Metric(labels);
    m.gauge.value = value;
    Add(name, help, MetricType::Gauge, std::move(m));
  }
  void Histogram(const std::string& name, const std::string& help,
                 const core::LatencyHistogram::Snapshot& h, const Labels& labels = {}) {
    ClientMetric m = Metric(labels);
    uint64_t cumulative = 0;
    for (size_t i = 0; i < core::LatencyHistogram::kBuckets; ++i) {
      cumulative += h.buckets[i];
      const double bound = i < core::LatencyHistogram::kBoundsNs.size()
                               ? static_cast<double>(core::LatencyHistogram::kBoundsNs[i]) / 1e9
                               : std::numeric_limits<double>::infinity();
      m.histogram.bucket.push_back({cumulative, bound});
    }
    m.histogram.sample_count = h.count;
    m.histogram.sample_sum = static_cast<double>(h.sum_ns) / 1e9;
    Add(name, help, MetricType::Histogram, std::move(m));
  }
  // Declares a family that may have no samples (so it is always listed).
  void Declare(const std::string& name, const std::string& help, MetricType type) {
    Find(name, help, type);
  }

  std::vector<MetricFamily> Take() { return std::move(families_); }

 private:
  ClientMetric Metric(const Labels& labels) const {
    ClientMetric m;
    m.label = base_;
    m.label.insert(m.label.end(), labels.begin(), labels.end());
    return m;
  }
  MetricFamily& Find(const std::string& name, const std::string& help, MetricType type) {
    for (MetricFamily& f : families_) {
      if (f.name == name) return f;
    }
    families_.push_back(MetricFamily{name, help, type, {}});
    return families_.back();
  }
  void Add(const std::string& name, const std::string& help, MetricType type, ClientMetric m) {
    Find(name, help, type).metric.push_back(std::move(m));
  }

  const Labels base_;
  std::vector<MetricFamily> families_;
};

std::vector<MetricFamily> Build(const MetricsInput& in) {
  Families f(in);
  const BusStats& s = in.stats;
  const auto d = [](auto v) { return static_cast<double>(v); };
  f.Counter("evbus_published_total", "Publishes the broker acknowledged (result ok)",
            d(s.published_ok), {{"result", "ok"}});
  f.Counter("evbus_published_total", "", d(s.published_failed), {{"result", "error"}});
  f.Histogram("evbus_publish_latency_seconds",
              "Publish call to broker acknowledgement (recorded while metrics.enabled)",
              in.publish_latency);
  f.Gauge("evbus_publish_in_flight", "Accepted publishes not yet completed",
          d(s.publish_in_flight));
  f.Counter("evbus_publish_rate_waits_total", "Publishes that waited for a rate-limit token",
            d(s.publish_rate_waits));
  f.Counter("evbus_consumed_total", "Messages by outcome", d(s.handled), {{"outcome", "handled"}});
  f.Counter("evbus_consumed_total", "", d(s.failed), {{"outcome", "failed"}});
  f.Counter("evbus_consumed_total", "", d(s.retried), {{"outcome", "retried"}});
  f.Counter("evbus_consumed_total", "", d(s.dead_lettered), {{"outcome", "dead_lettered"}});
  f.Counter("evbus_consumed_total", "", d(s.poison), {{"outcome", "poison"}});
  f.Counter("evbus_dead_letter_failures_total", "Dead-letter publishes that failed (lane blocked)",
            d(s.dead_letter_failures));
  f.Histogram("evbus_consume_latency_seconds",
              "Record read by the bus to settled (recorded while metrics.enabled)",
              in.consume_latency);
  f.Counter("evbus_dispatch_throttled_total", "Messages held back by a subscription's rate limit",
            d(s.dispatch_throttled));
  f.Declare("evbus_handler_seconds",
            "Handler duration inside middleware::Timing, by topic, event type and outcome",
            MetricType::Histogram);
  for (const core::MiddlewareMetrics::HandlerSeries& h : in.handler_timings) {
    f.Histogram("evbus_handler_seconds", "", h.duration,
                {{"topic", h.labels.topic},
                 {"event_type", h.labels.event_type},
                 {"outcome", h.labels.outcome}});
  }
  f.Declare("evbus_filtered_total", "Messages middleware::TypeFilter settled without the handler",
            MetricType::Counter);
  for (const core::MiddlewareMetrics::FilteredSeries& c : in.filtered) {
    f.Counter("evbus_filtered_total", "", d(c.count),
              {{"topic", c.labels.topic}, {"event_type", c.labels.event_type}});
  }
  f.Counter("evbus_commits_total", "Offsets committed (per partition)", d(s.commits));
  f.Counter("evbus_pauses_total", "Partitions paused for backpressure", d(s.pauses));
  f.Gauge("evbus_in_flight", "Messages read and not yet settled", d(s.in_flight));
  f.Gauge("evbus_in_flight_bytes", "Bytes of messages read and not yet settled",
          d(s.in_flight_bytes));

  f.Declare("evbus_partition_lag", "Consumer lag per assigned partition", MetricType::Gauge);
  f.Declare("evbus_partition_in_flight", "Messages in flight per assigned partition",
            MetricType::Gauge);
  f.Declare("evbus_partition_stall_seconds",
            "How long the partition's commit frontier has not moved with messages in flight",
            MetricType::Gauge);
  for (const PartitionBacklog& p : in.backlog.partitions) {
    const Labels l = {{"topic", p.topic}, {"partition", std::to_string(p.partition)}};
    f.Gauge("evbus_partition_lag", "", d(p.lag), l);
    f.Gauge("evbus_partition_in_flight", "", d(p.in_flight), l);
    f.Gauge("evbus_partition_stall_seconds", "", d(p.stalled_for.count()) / 1e3, l);
  }
  f.Gauge("evbus_lag", "Total consumer lag of the assigned partitions", d(in.backlog.total_lag));
  f.Gauge("evbus_stalled_partitions", "Partitions stalled past subscriber.stall_timeout",
          d(in.backlog.stalled_partitions));
  f.Gauge("evbus_backlog", "1 while in backlog", in.backlog.subscriber_backlog ? 1 : 0,
          {{"side", "subscriber"}});
  f.Gauge("evbus_backlog", "", in.backlog.publisher_backlog ? 1 : 0, {{"side", "publisher"}});

  f.Gauge("evbus_up", "1 while the bus is running and healthy (EventBus::health())",
          in.health.healthy ? 1 : 0, {{"state", std::string(ToString(in.state))}});
  f.Gauge("evbus_connected", "1 while the transport is connected", in.connected ? 1 : 0,
          {{"transport", in.transport}});
  f.Counter("evbus_connection_changes_total", "Connection state changes reported by the transport",
            d(s.connection_changes));
  f.Gauge("evbus_blocked_lanes", "Lanes waiting on a failing dead-letter publish",
          d(in.health.blocked_lanes));
  if (in.health.health_publisher.running) {
    const HealthPublisherStatus& hp = in.health.health_publisher;
    f.Counter("evbus_health_messages_total", "Health-check messages sent", d(hp.sent),
              {{"result", "ok"}});
    f.Counter("evbus_health_messages_total", "", d(hp.failed), {{"result", "error"}});
    f.Gauge("evbus_health_publisher_failures", "Consecutive health-check publish failures",
            d(hp.consecutive_failures));
  }
  if (in.health.health_monitor.running) {
    const HealthMonitorStats& hm = in.health.health_monitor;
    f.Counter("evbus_health_received_total", "Valid health-check messages received",
              d(hm.received));
    f.Gauge("evbus_health_monitor_misses", "Consecutive health-check intervals without a message",
            d(hm.consecutive_misses));
  }
  for (const auto& [component, n] : in.threads) {
    f.Gauge("evbus_threads", "Process threads by owner (the thread census)", d(n),
            {{"owner", component}});
  }
  if (in.close) {
    const CloseReport& c = *in.close;
    f.Gauge("evbus_close_duration_seconds", "How long Close() took", d(c.duration.count()) / 1e6);
    f.Gauge("evbus_close_abandoned", "Messages Close() left uncommitted", d(c.abandoned));
    f.Gauge("evbus_close_drained", "Messages settled while closing", d(c.drained));
    f.Gauge("evbus_close_threads_left", "Threads of this bus left after Close() (always 0)",
            d(c.bus_threads_after_close));
  }
  return f.Take();
}

class SourceCollectable final : public prometheus::Collectable {
 public:
  explicit SourceCollectable(MetricsExporter::Source source) : source_(std::move(source)) {}
  std::vector<MetricFamily> Collect() const override { return Build(source_()); }

 private:
  MetricsExporter::Source source_;
};

}  // namespace

std::string RenderMetricsText(const MetricsInput& input) {
  return prometheus::TextSerializer().Serialize(Build(input));
}

Result<std::unique_ptr<MetricsExporter>> MetricsExporter::Start(const std::string& listen,
                                                                uint64_t bus_id, Source source) {
  std::unique_ptr<MetricsExporter> e(new MetricsExporter());
  e->bus_id_ = bus_id;
  e->collectable_ = std::make_shared<SourceCollectable>(std::move(source));
  {
    // civetweb starts its threads inside the Exposer constructor and tells
    // nobody: claim whatever appeared meanwhile.
    std::lock_guard<std::mutex> window(core::ClaimWindowMutex());
    const std::set<int> before = core::ListTasks();
    try {
      e->exposer_ = std::make_unique<prometheus::Exposer>(listen, /*num_threads=*/1);
    } catch (const std::exception& ex) {
      e->claims_.ClaimNew(before, bus_id);  // whatever it started and stopped again
      e->claims_.ReleaseAll();
      return Status(ErrorCode::kUnavailable,
                    "metrics.listen " + listen + ": cannot listen: " + ex.what());
    }
    e->claims_.ClaimNew(before, bus_id);
  }
  e->exposer_->RegisterCollectable(e->collectable_);
  const std::vector<int> ports = e->exposer_->GetListeningPorts();
  e->port_ = ports.empty() ? 0 : ports.front();
  return e;
}

MetricsExporter::MetricsExporter() : claims_("metrics-http", "evb-metrics") {}

namespace {

// One connection attempt to 127.0.0.1:`port`, closed at once.
void Poke(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  (void)::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  ::close(fd);
}

}  // namespace

MetricsExporter::~MetricsExporter() {
  // civetweb's master thread polls its listening socket in 2 s quanta and
  // sees the stop flag only between them, so a plain stop takes up to 2 s.
  // A short-lived helper pokes the port until the stop is done: each
  // connection ends the poll early. (Only for loopback-reachable listeners;
  // otherwise the stop just takes its 2 s.)
  std::mutex mu;
  std::condition_variable cv;
  bool stopped = false;
  core::Thread waker;
  if (port_ > 0) {
    waker = core::Thread::Start("evb-metrics-stop", "metrics-http", bus_id_, [&] {
      std::unique_lock<std::mutex> lock(mu);
      while (!stopped) {
        lock.unlock();
        Poke(port_);
        lock.lock();
        cv.wait_for(lock, std::chrono::milliseconds(5), [&] { return stopped; });
      }
    });
  }
  exposer_.reset();  // mg_stop joins civetweb's threads
  {
    std::lock_guard<std::mutex> lock(mu);
    stopped = true;
  }
  cv.notify_all();
  waker.Join();
  claims_.ReleaseAll();
}

}  // namespace evbus::ops
