#include "core/publisher.h"

#include "core/completion_thread.h"

namespace evbus::core {

Publisher::Publisher(std::unique_ptr<transport::Producer> producer, const PublisherConfig& config,
                     Counters& counters)
    : producer_(std::move(producer)),
      config_(config),
      counters_(counters),
      limiter_(ops::RateLimiter::Make(config.rate_limit, config.rate_burst)) {}

Status Publisher::SetResultSink(PublishCallback sink) {
  if (used_.load(std::memory_order_acquire)) {
    return FailedPrecondition("the publish result callback must be set before the first publish");
  }
  result_sink_ = std::move(sink);
  return Status();
}

Status Publisher::WaitForToken(std::chrono::steady_clock::time_point deadline,
                               std::string_view setting) {
  auto now = std::chrono::steady_clock::now();
  std::chrono::nanoseconds wait = limiter_->TryAcquire(now);
  if (wait.count() == 0) return Status();
  counters_.publish_rate_waits.fetch_add(1, std::memory_order_relaxed);
  std::unique_lock<std::mutex> lock(mu_);
  waiters_.fetch_add(1, std::memory_order_acq_rel);
  Status s;
  while (wait.count() > 0) {
    if (now + wait > deadline) {
      s = Status(ErrorCode::kQueueFull, "publish rate limit: no token within " +
                                            std::string(setting) + " (publisher.rate_limit " +
                                            std::to_string(limiter_->per_second()) + "/s)");
      break;
    }
    // Pacing, not synchronisation: woken early only by close.
    if (room_cv_.wait_until(lock, now + wait,
                            [&] { return !accepting_.load(std::memory_order_acquire); })) {
      s = Closed("bus is closing; publish refused");
      break;
    }
    now = std::chrono::steady_clock::now();
    wait = limiter_->TryAcquire(now);
  }
  waiters_.fetch_sub(1, std::memory_order_acq_rel);
  return s;
}

std::chrono::steady_clock::time_point Publisher::Account(
    const Status& status, std::chrono::steady_clock::time_point started, bool report) {
  const auto completed =
      report || counters_.measure_latency ? std::chrono::steady_clock::now() : started;
  if (counters_.measure_latency) {
    counters_.publish_latency.Observe(
        std::chrono::duration_cast<std::chrono::nanoseconds>(completed - started).count());
  }
  if (status.ok()) {
    counters_.published_ok.fetch_add(1, std::memory_order_relaxed);
  } else {
    counters_.published_failed.fetch_add(1, std::memory_order_relaxed);
    if (status.code() == ErrorCode::kClosed) failed_closed_.fetch_add(1, std::memory_order_relaxed);
  }
  Completed();  // before any result callback: it may publish again
  return completed;
}

void Publisher::Completed() {
  outstanding_.fetch_sub(1, std::memory_order_acq_rel);
  counters_.publish_in_flight.fetch_sub(1, std::memory_order_relaxed);
  if (waiters_.load(std::memory_order_acquire) > 0) {
    std::lock_guard<std::mutex> lock(mu_);  // pairs with the waiter's predicate check
    room_cv_.notify_all();
  }
}

Status Publisher::Publish(Record&& record, Meta meta, PublishCallback done,
                          std::optional<Duration> timeout_override) {
  callers_.fetch_add(1);  // seq_cst, paired with Close: see callers_
  struct Leave {
    Publisher& p;
    ~Leave() {
      if (p.callers_.fetch_sub(1) == 1 && !p.accepting_.load()) {
        std::lock_guard<std::mutex> lock(p.mu_);  // pairs with Close's predicate check
        p.room_cv_.notify_all();
      }
    }
  } leave{*this};
  if (!accepting_.load()) return Closed("bus is closing; publish refused");
  const auto started = std::chrono::steady_clock::now();
  const Duration timeout = timeout_override.value_or(config_.timeout);
  const std::string_view setting =
      timeout_override ? "the publish's timeout (PublishOptions::timeout)" : "publisher.timeout";
  // Read first: a store on every publish would bounce the cache line between publishers.
  if (!used_.load(std::memory_order_relaxed)) used_.store(true, std::memory_order_relaxed);
  if (limiter_) {
    if (Status s = WaitForToken(started + timeout, setting); !s.ok()) {
      counters_.published_failed.fetch_add(1, std::memory_order_relaxed);
      return s;
    }
  }
  // Reserve a slot; when none is free, wait for one up to the timeout.
  if (outstanding_.fetch_add(1, std::memory_order_acq_rel) >= config_.max_in_flight) {
    outstanding_.fetch_sub(1, std::memory_order_acq_rel);
    std::unique_lock<std::mutex> lock(mu_);
    waiters_.fetch_add(1, std::memory_order_acq_rel);
    const bool got = room_cv_.wait_until(lock, started + timeout, [&] {
      if (!accepting_.load(std::memory_order_acquire)) return true;
      int64_t n = outstanding_.load(std::memory_order_acquire);
      while (n < config_.max_in_flight) {
        if (outstanding_.compare_exchange_weak(n, n + 1, std::memory_order_acq_rel)) return true;
      }
      return false;
    });
    waiters_.fetch_sub(1, std::memory_order_acq_rel);
    if (!accepting_.load(std::memory_order_acquire)) {
      if (got) outstanding_.fetch_sub(1, std::memory_order_acq_rel);
      return Closed("bus is closing; publish refused");
    }
    if (!got) {
      counters_.published_failed.fetch_add(1, std::memory_order_relaxed);
      return Status(
          ErrorCode::kQueueFull,
          "publish queue full: " + std::to_string(config_.max_in_flight) +
              " publishes outstanding (publisher.max_in_flight) for " +
              std::to_string(
                  std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count()) +
              "ms (" + std::string(setting) + ")");
    }
  }
  counters_.publish_in_flight.fetch_add(1, std::memory_order_relaxed);

  const bool to_sink = result_sink_ && !meta.internal;
  const bool report = done || to_sink;
  Status s;
  if (!report) {
    // Nobody wants a result: a completion small enough for std::function's
    // inline storage, so the publish path allocates nothing for it.
    s = producer_->Produce(std::move(record),
                           [this, started](const Status& status, int32_t, int64_t) {
                             Account(status, started, /*report=*/false);
                           });
  } else {
    std::string topic = record.topic;
    s = producer_->Produce(
        std::move(record),
        [this, done = std::move(done), meta = std::move(meta), topic = std::move(topic), started,
         to_sink](const Status& status, int32_t partition, int64_t offset) mutable {
          const auto completed = Account(status, started, /*report=*/true);
          PublishResult result;
          result.topic = std::move(topic);
          result.event_id = std::move(meta.event_id);
          result.aggregate_id = std::move(meta.aggregate_id);
          result.event_type = std::move(meta.event_type);
          result.status = status;
          result.partition = partition;
          result.offset = offset;
          result.published_at = started;
          result.completed_at = completed;
          result.timestamp = std::chrono::system_clock::now();
          const core::CompletionScope scope;  // a Sync publish here would wait for itself
          if (done) done(result);
          if (to_sink) result_sink_(result);
        });
  }
  if (!s.ok()) {
    // Not accepted: no completion will come; give the slot back.
    outstanding_.fetch_sub(1, std::memory_order_acq_rel);
    counters_.publish_in_flight.fetch_sub(1, std::memory_order_relaxed);
    counters_.published_failed.fetch_add(1, std::memory_order_relaxed);
  }
  return s;
}

void Publisher::StopAccepting() {
  accepting_.store(false);  // seq_cst: see callers_
  std::lock_guard<std::mutex> lock(mu_);
  room_cv_.notify_all();
}

uint64_t Publisher::Close(transport::Clock::time_point deadline) {
  StopAccepting();
  {
    // A publish that got past its check before StopAccepting is still
    // handing its record over: let it finish, so it completes below.
    std::unique_lock<std::mutex> lock(mu_);
    room_cv_.wait_until(lock, deadline, [&] { return callers_.load() == 0; });
  }
  // The flush leaves time to tear the client down before the deadline.
  const transport::Clock::time_point flush_by = transport::WaitsEndBefore(deadline);
  Status flushed = producer_->Flush(flush_by);
  (void)flushed;  // what did not flush completes with Closed below
  producer_->Close(flush_by);
  return failed_closed_.load(std::memory_order_relaxed);
}

}  // namespace evbus::core
