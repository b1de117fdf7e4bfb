// One consumer process of the chaos suite: handles the topic's envelopes in
// its group, writing "incarnation aggregate version" for each to its log with
// one write(2) before the handler returns OK, until SIGKILL (the driver's
// chaos) or SIGTERM (the end: a normal Close, whose thread census must come
// back to where it was before the bus existed: exit 4 otherwise).

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "chaos/chaos.h"
#include "evbus/census.h"
#include "evbus/event_bus.h"
#include "evbus/ops.h"

namespace evbus::chaos {

int RunConsumer(const Options& o) {
  // SIGTERM is taken by sigwait below: blocked before any thread exists, so
  // every thread the bus starts inherits the mask.
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &term, nullptr);

  const int fd = open(o.log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    std::perror(o.log.c_str());
    return 3;
  }
  const size_t threads_before = CountProcessThreads();
  auto handler = [&](const Envelope& e, const Delivery& d) {
    // "agg-N": the driver's aggregate index.
    // CLOCK_MONOTONIC is one clock for every process of the machine, so the
    // driver can order handlings across processes.
    const auto now = std::chrono::steady_clock::now().time_since_epoch();
    const std::string line =
        std::to_string(o.incarnation) + " " + e.aggregate_id.substr(4) + " " +
        std::to_string(e.event_version) + " " +
        std::to_string(std::chrono::duration_cast<std::chrono::nanoseconds>(now).count()) + "\n";
    if (write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
      return Status(ErrorCode::kInternal, "log write failed");  // retried
    }
    if (o.handle_us > 0) d.cancel.WaitFor(std::chrono::microseconds(o.handle_us));
    return Status();
  };
  auto start = [&]() -> Result<std::unique_ptr<EventBus>> {
    auto bus = EventBus::Create(MakeConfig(o));
    if (!bus.ok()) return bus.status();
    (void)(*bus)->SetErrorCallback([](const Status&) {});  // the chaos is expected
    Status s = (*bus)->SubscribeEnvelope(o.topic, handler);
    if (s.ok()) s = (*bus)->Start();
    if (!s.ok()) return s;
    return std::move(bus).value();
  };
  // A member (re)started while the cluster elects a leader cannot connect or
  // set up its streams yet (Unavailable), or its metadata request outlives
  // the broker it went to (Timeout, on Kafka): as a supervisor would, start
  // it again, for up to 60 s.
  auto bus = start();
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  auto retriable = [](const Status& s) {
    return s.code() == ErrorCode::kUnavailable || s.code() == ErrorCode::kTimeout;
  };
  for (int attempt = 1; !bus.ok() && retriable(bus.status()) && attempt < 30 &&
                        std::chrono::steady_clock::now() < give_up;
       ++attempt) {
    std::fprintf(stderr, "chaos consumer: %s; starting again\n", bus.status().ToString().c_str());
    bus = start();
  }
  if (!bus.ok()) {
    std::fprintf(stderr, "chaos consumer: %s\n", bus.status().ToString().c_str());
    return 3;
  }
  int sig = 0;
  sigwait(&term, &sig);
  // What this member held at the end, for a run that failed to drain.
  const BacklogState b = (*bus)->backlog();
  const BusStats st = (*bus)->stats();
  std::string held;
  for (const PartitionBacklog& p : b.partitions) {
    held += " " + std::to_string(p.partition) + "(lag " + std::to_string(p.lag) + ", in flight " +
            std::to_string(p.in_flight) + ")";
  }
  std::fprintf(stderr, "chaos consumer %lld: handled %llu, in flight %lld, partitions:%s\n",
               static_cast<long long>(o.incarnation), static_cast<unsigned long long>(st.handled),
               static_cast<long long>(st.in_flight), held.empty() ? " none" : held.c_str());
  Result<CloseReport> report = (*bus)->Close();
  bus->reset();
  close(fd);
  const size_t threads_after = CountProcessThreads();
  if (!report.ok() || report->bus_threads_after_close != 0 || threads_after != threads_before) {
    std::fprintf(stderr, "chaos consumer %lld: threads %zu before the bus, %zu after close; %s\n",
                 static_cast<long long>(o.incarnation), threads_before, threads_after,
                 report.ok() ? report->ToString().c_str() : report.status().ToString().c_str());
    return 4;
  }
  return 0;
}

}  // namespace evbus::chaos
