#include "core/dispatcher.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <exception>
#include <functional>
#include <random>

#include "config/config_fields.h"
#include "core/backoff.h"
#include "core/partition_state.h"
#include "evbus/cloudevents.h"

namespace evbus::core {
namespace {

thread_local const void* tls_worker_bus = nullptr;
thread_local int tls_worker_index = 0;  // this worker's HandlerWatchdog slot
// How long the last Outcome::kThrottle of this worker must wait.
thread_local std::chrono::nanoseconds tls_throttle_wait{0};

Status HandlerThrew(const char* what) {
  return Status(ErrorCode::kHandlerFailed, std::string("handler threw: ") + what);
}

std::string NowRfc3339() {
  Timestamp ts = Timestamp::Now();
  return FormatRfc3339(ts);
}

}  // namespace

Dispatcher::Dispatcher(DispatcherContext context)
    : ctx_(std::move(context)), scheduler_(ctx_.lanes), watchdog_(ctx_.workers, *ctx_.cancel) {}

bool Dispatcher::OnWorkerOf(const void* bus_tag) {
  return bus_tag != nullptr && tls_worker_bus == bus_tag;
}

void Dispatcher::Start() {
  timer_ = std::make_unique<RetryTimer>(
      ctx_.bus_id, [this](uint32_t lane) { scheduler_.MakeReady(lane); }, &watchdog_);
  workers_.reserve(static_cast<size_t>(ctx_.workers));
  for (int i = 0; i < ctx_.workers; ++i) {
    workers_.push_back(Thread::Start("evb-work-" + std::to_string(i), "worker-pool", ctx_.bus_id,
                                     [this, i] { WorkerMain(i); }));
  }
}

LaneScheduler::Unit Dispatcher::UnitFor(const Subscription& sub, const Record& record) {
  switch (sub.ordering) {
    case Ordering::kPerKey: {
      std::string_view key = record.key;
      if (key.empty()) {
        if (auto h = FindHeader(record.headers, "X-Aggregate-ID")) key = *h;
      }
      if (!key.empty()) return LaneScheduler::Unit::Key(sub.topic, key);
      [[fallthrough]];  // no key: keep the record's partition order
    }
    case Ordering::kPerPartition:
      return LaneScheduler::Unit::Partition(sub.topic, record.partition);
    case Ordering::kNone:
      return LaneScheduler::Unit::Own();
  }
  return LaneScheduler::Unit::Own();
}

void Dispatcher::WorkerMain(int index) {
  tls_worker_bus = ctx_.bus_tag;
  tls_worker_index = index;
  std::vector<LaneScheduler::Taken> taken;
  TurnResult turn;
  // Cheap handlers: take many lanes per turn to amortise the scheduler lock.
  // Slow handlers: one lane per turn, so no worker sits on lanes another
  // idle worker could run.
  while (scheduler_.Take(taken, handler_ns_.load(std::memory_order_relaxed) > 20'000 ? 1 : 32)) {
    const auto start = std::chrono::steady_clock::now();
    size_t messages = 0;
    for (const LaneScheduler::Taken& t : taken) messages += RunLane(t, turn);
    taken.clear();
    if (messages > 0) {  // moving average of the cost of one message
      const int64_t per = std::chrono::duration_cast<std::chrono::nanoseconds>(
                              std::chrono::steady_clock::now() - start)
                              .count() /
                          static_cast<int64_t>(messages);
      const int64_t old = handler_ns_.load(std::memory_order_relaxed);
      handler_ns_.store(old + (per - old) / 8, std::memory_order_relaxed);
    }
    // Settle before giving lanes back, so Close never sees a quiet scheduler
    // while settled work is still missing from the frontier.
    SettleAll(turn.settled);
    scheduler_.ReturnCompleted(turn.completed_lanes, turn.dropped);
    turn.completed_lanes.clear();
    ReleaseAll(turn.dropped);
  }
  tls_worker_bus = nullptr;
}

size_t Dispatcher::RunLane(const LaneScheduler::Taken& taken, TurnResult& turn) {
  std::vector<InFlight*> dropped;
  size_t ran = 0;
  InFlight* m = taken.head;
  while (m != nullptr) {
    InFlight* next = m->next;
    if (m->partition->abandoned()) {  // revoked: its messages are not ours to run
      m->next = nullptr;
      turn.dropped.push_back(m);
      m = next;
      continue;
    }
    if (ctx_.cancel->cancelled()) {  // close passed its drain deadline: park the rest
      SettleAll(turn.settled);
      scheduler_.ReturnWaiting(taken.lane, m, taken.tail, false, dropped);
      ReleaseAll(dropped);
      return ran;
    }
    ++ran;
    const Outcome outcome = Invoke(*m);
    if (outcome == Outcome::kSettled) {
      m->next = nullptr;
      turn.settled.push_back(m);
      m = next;
      continue;
    }
    // The lane waits: m and everything after it go back, in order. Settle
    // what ran before it first (a dead-letter publish may complete inline).
    SettleAll(turn.settled);
    const bool dead_letter = outcome == Outcome::kDeadLetter;
    const auto retry_at =
        outcome == Outcome::kRetry
            ? std::chrono::steady_clock::now() + RetryBackoff(m->subscription->retry, m->attempts)
        : outcome == Outcome::kThrottle ? std::chrono::steady_clock::now() + tls_throttle_wait
                                        : std::chrono::steady_clock::time_point{};
    const bool kept = scheduler_.ReturnWaiting(taken.lane, m, taken.tail, dead_letter, dropped);
    ReleaseAll(dropped);  // when !kept, m itself was released here: do not touch it
    if (!kept) return ran;
    if (outcome == Outcome::kRetry) {
      ctx_.counters->retried.fetch_add(1, std::memory_order_relaxed);
      timer_->Schedule(taken.lane, retry_at);
    } else if (outcome == Outcome::kThrottle) {
      ctx_.counters->dispatch_throttled.fetch_add(1, std::memory_order_relaxed);
      timer_->Schedule(taken.lane, retry_at);
    } else if (dead_letter) {
      // The head is marked busy: abandoning keeps it until the publish ends.
      PublishDeadLetter(taken.lane, *m);
    }
    return ran;
  }
  turn.completed_lanes.push_back(taken.lane);
  return ran;
}

void Dispatcher::SettleAll(std::vector<InFlight*>& settled) {
  if (settled.empty()) return;
  // One frontier lock per partition for the whole turn.
  std::stable_sort(settled.begin(), settled.end(), [](const InFlight* a, const InFlight* b) {
    return a->partition.get() < b->partition.get();
  });
  int64_t bytes = 0;
  for (const InFlight* m : settled) bytes += m->bytes;
  if (ctx_.measure_latency) {  // one clock read and one histogram update per turn
    const auto now = std::chrono::steady_clock::now();
    std::array<uint64_t, LatencyHistogram::kBuckets> buckets{};
    uint64_t sum = 0;
    for (const InFlight* m : settled) {
      const int64_t ns =
          std::chrono::duration_cast<std::chrono::nanoseconds>(now - m->received_at).count();
      ++buckets[LatencyHistogram::BucketOf(ns)];
      sum += static_cast<uint64_t>(std::max<int64_t>(0, ns));
    }
    ctx_.counters->consume_latency.Add(buckets, settled.size(), sum);
  }
  ctx_.counters->in_flight.fetch_sub(static_cast<int64_t>(settled.size()),
                                     std::memory_order_relaxed);
  ctx_.counters->in_flight_bytes.fetch_sub(bytes, std::memory_order_seq_cst);  // see OnReleased
  std::vector<uint64_t> seqs;
  for (size_t i = 0; i < settled.size();) {
    PartitionState* p = settled[i]->partition.get();
    seqs.clear();
    size_t j = i;
    for (; j < settled.size() && settled[j]->partition.get() == p; ++j)
      seqs.push_back(settled[j]->seq);
    const int left = p->SettleMany(seqs.data(), seqs.size());
    if (ctx_.on_released) ctx_.on_released(*settled[j - 1], left);
    i = j;
  }
  pool_.Recycle(settled);  // clears it
}

Dispatcher::Outcome Dispatcher::Invoke(InFlight& m) {
  if (m.dead_letter) return Outcome::kDeadLetter;  // a dead-letter publish to retry
  const Subscription& sub = *m.subscription;
  if (sub.limiter) {
    tls_throttle_wait = sub.limiter->TryAcquire(std::chrono::steady_clock::now());
    if (tls_throttle_wait.count() > 0) return Outcome::kThrottle;
  }
  Status status;
  const bool watched = sub.handler_timeout.count() > 0;
  const CancelToken* cancel = ctx_.cancel;
  try {
    // One envelope per worker, reused: decoding allocates nothing once warm.
    // Any record decodes: a CloudEvent in either mode, else the JSON envelope.
    thread_local Envelope envelope;
    if (sub.envelope_handler) {
      if (Status decoded = DecodeEnvelopeFromRecord(*m.record, envelope, sub.payload_format);
          !decoded.ok()) {  // poison: dead-letter at once, never retried
        ctx_.counters->poison.fetch_add(1, std::memory_order_relaxed);
        m.last_error = decoded.ToString();
        m.dead_letter = true;
        return Outcome::kDeadLetter;
      }
    }
    ++m.attempts;
    if (watched) {
      const auto now = std::chrono::steady_clock::now();
      cancel = &watchdog_.Arm(tls_worker_index, sub.handler_timeout, now);
      timer_->ScanBy(now + sub.handler_timeout);
    }
    const Delivery delivery{*m.record, m.attempts, *cancel};
    status = sub.envelope_handler ? sub.envelope_handler(envelope, delivery)
                                  : sub.record_handler(*m.record, delivery);
  } catch (const std::exception& e) {
    status = HandlerThrew(e.what());
  } catch (...) {
    status = HandlerThrew("an exception not derived from std::exception");
  }
  if (watched && watchdog_.Disarm(tls_worker_index)) {
    // Past its deadline the attempt failed, whatever the handler returned.
    status = Status(ErrorCode::kTimeout,
                    "handler still running after its handler_timeout " +
                        config_internal::FormatDuration(sub.handler_timeout) + "; cancelled" +
                        (status.ok() ? std::string() : ", then returned " + status.ToString()));
  }
  if (status.ok()) {
    ctx_.counters->handled.fetch_add(1, std::memory_order_relaxed);
    return Outcome::kSettled;
  }
  ctx_.counters->failed.fetch_add(1, std::memory_order_relaxed);
  m.last_error = status.ToString();
  // A failure caused by Close's cancellation is not the message's fault: redeliver later.
  if (ctx_.cancel->cancelled() || status.code() == ErrorCode::kCancelled) return Outcome::kPark;
  // The handler says no retry can succeed (or could not read the message).
  const bool permanent =
      status.code() == ErrorCode::kPermanent || status.code() == ErrorCode::kPoison;
  if (permanent || m.attempts >= sub.retry.max_attempts) {
    m.dead_letter = true;
    return Outcome::kDeadLetter;
  }
  if (scheduler_.draining()) return Outcome::kPark;  // no new retries while closing
  return Outcome::kRetry;
}

void Dispatcher::PublishDeadLetter(uint32_t lane, InFlight& m) {
  Record dlq;
  dlq.topic = m.subscription->dead_letter_topic;
  dlq.key = m.record->key;
  dlq.payload = m.record->payload;
  dlq.headers = m.record->headers;
  dlq.headers.push_back({"X-Original-Topic", m.record->topic});
  dlq.headers.push_back({"X-Original-Partition", std::to_string(m.record->partition)});
  dlq.headers.push_back({"X-Original-Offset", std::to_string(m.record->offset)});
  dlq.headers.push_back({"X-Error", m.last_error});
  dlq.headers.push_back({"X-Attempts", std::to_string(m.attempts)});
  dlq.headers.push_back({"X-Failed-At", NowRfc3339()});
  ++m.dead_letter_attempts;

  const RetryPolicy* policy = &m.subscription->retry;  // subscriptions outlive the dispatcher
  const int attempt = m.dead_letter_attempts;
  Status s = ctx_.producer->Produce(
      std::move(dlq), [this, lane, head = &m, policy, attempt](const Status& st, int32_t, int64_t) {
        OnDeadLetterDone(lane, *head, st, *policy, attempt);
      });
  if (!s.ok()) OnDeadLetterDone(lane, m, s, *policy, attempt);
}

void Dispatcher::OnDeadLetterDone(uint32_t lane, const InFlight& head, const Status& status,
                                  const RetryPolicy& policy, int attempt) {
  if (status.ok()) {
    InFlight* m = scheduler_.DeadLetterSucceeded(lane);
    ctx_.counters->dead_lettered.fetch_add(1, std::memory_order_relaxed);
    if (ctx_.measure_latency) {
      ctx_.counters->consume_latency.Observe(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                                 std::chrono::steady_clock::now() - m->received_at)
                                                 .count());
    }
    Release(m, /*settled=*/true);
    return;
  }
  // Fail closed: the lane stays blocked and the publish is retried.
  ctx_.counters->dead_letter_failures.fetch_add(1, std::memory_order_relaxed);
  InFlight* popped = scheduler_.DeadLetterFailed(lane);
  if (popped != nullptr) {  // closing: leave it uncommitted for redelivery
    Release(popped, /*settled=*/false);
    return;
  }
  // Still blocked, so `head` is still the lane's head (and valid).
  const auto backoff = RetryBackoff(policy, attempt);
  const Record& r = *head.record;
  ctx_.report_error(Status(
      ErrorCode::kUnavailable,
      "dead-letter publish of " + r.topic + "[" + std::to_string(r.partition) + "]@" +
          std::to_string(r.offset) + " (key '" + r.key + "') failed (attempt " +
          std::to_string(attempt) +
          "); it and the messages ordered behind it stay blocked; retry in " +
          std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(backoff).count()) +
          " ms: " + status.ToString()));
  // The lane's head is still the message; the timer makes it run again.
  if (timer_) timer_->Schedule(lane, std::chrono::steady_clock::now() + backoff);
}

void Dispatcher::Release(InFlight* m, bool settled) {
  const int left = m->partition->Finish(m->seq, settled);
  ctx_.counters->in_flight.fetch_sub(1, std::memory_order_relaxed);
  ctx_.counters->in_flight_bytes.fetch_sub(m->bytes, std::memory_order_seq_cst);  // see OnReleased
  if (!settled) abandoned_.fetch_add(1, std::memory_order_relaxed);
  if (ctx_.on_released) ctx_.on_released(*m, left);
  pool_.Recycle(m);
}

void Dispatcher::ReleaseAll(std::vector<InFlight*>& dropped) {
  for (InFlight* m : dropped) Release(m, /*settled=*/false);
  dropped.clear();
}

void Dispatcher::AbandonAll() {
  std::vector<InFlight*> dropped = scheduler_.AbandonAll();
  ReleaseAll(dropped);
}

void Dispatcher::Stop() {
  if (stopped_) return;
  stopped_ = true;
  scheduler_.Stop();
  for (Thread& t : workers_) t.Join();
  workers_.clear();
  if (timer_) timer_->Stop();
  // Whatever is still queued (only when Stop runs without AbandonAll) is released unsettled.
  std::vector<InFlight*> dropped = scheduler_.AbandonAll();
  ReleaseAll(dropped);
}

}  // namespace evbus::core
