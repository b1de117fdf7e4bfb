// OutboxRelay: one thread ("evb-outbox") that claims a batch of rows,
// publishes them through the bus as one chain per aggregate (a row only once
// the previous row of its aggregate was acknowledged), and marks the round's
// rows in one transaction. Per-aggregate order holds whatever fails.

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/backoff.h"
#include "core/thread.h"
#include "evbus/event_bus.h"
#include "evbus/outbox.h"
#include "outbox/store.h"

namespace evbus {

using outbox::OutboxRow;
using outbox::RowOutcome;

class OutboxRelay::Impl {
 public:
  Impl(EventBus& bus, OutboxRelayOptions options, std::unique_ptr<outbox::Store> store, int lock_fd)
      : bus_(bus), options_(std::move(options)), store_(std::move(store)), lock_fd_(lock_fd) {
    stats_.database_ok = true;  // Start() has just connected and migrated
  }

  ~Impl() {
    Close();
    if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
  }

  void StartThread() {
    thread_ = core::Thread::Start("evb-outbox", "outbox-relay", 0, [this] { Run(); });
  }

  void Close() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.Join();
  }

  OutboxRelayStats stats() const {
    std::lock_guard lock(stats_mu_);
    return stats_;
  }

 private:
  // Waits `d` or until Close(); true when closing.
  bool WaitOrStop(std::chrono::nanoseconds d) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, d, [this] { return stopping_; });
  }
  bool stopping() {
    std::lock_guard lock(mu_);
    return stopping_;
  }

  void Run() {
    std::vector<OutboxRow> rows;
    std::vector<RowOutcome> outcomes;
    int outage = 0;  // consecutive rounds lost to the database or the broker
    auto next_status = std::chrono::steady_clock::now();
    while (!stopping()) {
      if (std::chrono::steady_clock::now() >= next_status) {
        Maintain();
        next_status = std::chrono::steady_clock::now() + options_.status_interval;
      }
      if (!store_) {
        if (Status s = Reconnect(); !s.ok()) {
          Problem(s);
          if (WaitOrStop(core::RetryBackoff(options_.retry, ++outage))) break;
          continue;
        }
      }
      if (Status s = store_->Claim(options_.batch_size, outbox::NowMicros(), rows); !s.ok()) {
        Problem(s);
        if (!store_->healthy()) store_.reset();  // reconnect next round
        if (WaitOrStop(core::RetryBackoff(options_.retry, ++outage))) break;
        continue;
      }
      SetDatabaseOk();
      if (rows.empty()) {
        if (WaitOrStop(options_.poll_interval)) break;
        continue;
      }
      const RoundResult round = PublishRound(rows, outcomes);
      if (Status settled = store_->Settle(outcomes, outbox::NowMicros()); !settled.ok()) {
        // Acknowledged rows stay pending and go again: duplicates, not loss.
        Problem(settled);
        if (!store_->healthy()) store_.reset();
      } else {
        Count(outcomes);
      }
      if (round.closed) {
        Problem(Closed("outbox relay: the bus is closed; the relay stops publishing"));
        break;
      }
      outage = round.outage ? outage + 1 : 0;
      if (outage > 0 && WaitOrStop(core::RetryBackoff(options_.retry, outage))) break;
      // Every claimed chain's head was held elsewhere (another relay's
      // round): wait as when idle rather than claim the same rows at once.
      if (outage == 0 && round.published == 0 && WaitOrStop(options_.poll_interval)) break;
    }
    if (store_) store_->Abandon();
  }

  struct RoundResult {
    bool outage = false;   // every publish failed, retriably: the broker, not the rows
    bool closed = false;   // the bus refused with kClosed
    size_t published = 0;  // rows published this round
  };

  static constexpr size_t kNone = static_cast<size_t>(-1);

  // Publishes the claimed rows as one chain per aggregate: the first row of
  // each chain at once, each later row when the broker has acknowledged the
  // one before it (no database trip in between), so an aggregate's events
  // never overtake each other and different aggregates go in parallel. A
  // chain whose first row is not its aggregate's head (another relay holds
  // the head) is left alone, as is the rest of a chain after a failure.
  // Fills `outcomes`, one per row.
  RoundResult PublishRound(const std::vector<OutboxRow>& rows, std::vector<RowOutcome>& outcomes) {
    const size_t n = rows.size();
    results_.assign(n, Status());
    published_.assign(n, false);
    outcomes.assign(n, RowOutcome());
    next_.assign(n, kNone);
    std::vector<size_t> starts;
    {
      std::unordered_map<std::string_view, size_t> last;  // aggregate -> its last row so far
      last.reserve(n);
      for (size_t i = 0; i < n; ++i) {
        outcomes[i].id = rows[i].id;
        auto [it, first] = last.try_emplace(rows[i].aggregate_id, i);
        if (first) {
          if (rows[i].id == rows[i].head_id) starts.push_back(i);
        } else {
          next_[it->second] = i;
          it->second = i;
        }
      }
    }
    answered_.assign(n, false);
    uint64_t round;
    {
      std::lock_guard lock(round_mu_);
      round = ++round_;
      completed_.clear();
      completed_.reserve(n);
      outstanding_ = 0;
    }
    for (size_t i : starts) Publish(rows, i, round);
    // The broker answers every accepted publish, but only by its own
    // timeouts (30 s and more) when it is gone: the round waits at most
    // ack_timeout, and what is unanswered then stays pending.
    const auto deadline = std::chrono::steady_clock::now() + options_.ack_timeout;
    std::vector<size_t> done;
    bool timed_out = false;
    for (;;) {
      {
        std::unique_lock lock(round_mu_);
        if (!round_cv_.wait_until(lock, deadline,
                                  [this] { return !completed_.empty() || outstanding_ == 0; })) {
          timed_out = true;
          ++round_;  // answers from now on are too late, and ignored
          break;
        }
        if (completed_.empty()) break;
        done.swap(completed_);
      }
      const bool closing = stopping();
      for (size_t i : done) {
        answered_[i] = true;
        if (results_[i].ok() && next_[i] != kNone && !closing) Publish(rows, next_[i], round);
      }
      done.clear();
    }
    if (timed_out) {
      Problem(Status(ErrorCode::kTimeout,
                     "outbox relay: the broker did not answer every publish of a round within "
                     "ack_timeout; those rows stay pending"));
    }
    return Judge(rows, outcomes);
  }

  void Publish(const std::vector<OutboxRow>& rows, size_t i, uint64_t round) {
    published_[i] = true;
    Status s = DecodeEnvelopeInto(rows[i].envelope, envelope_);
    if (!s.ok()) {
      Completed(round, i, Permanent("stored envelope does not decode: " + s.message()), false);
      return;
    }
    {
      std::lock_guard lock(round_mu_);
      ++outstanding_;
    }
    s = bus_.PublishEnvelope(rows[i].topic, envelope_, [this, i, round](const PublishResult& r) {
      Completed(round, i, r.status, true);
    });
    if (!s.ok()) Completed(round, i, std::move(s), true);  // refused: no callback comes
  }

  void Completed(uint64_t round, size_t i, Status status, bool counted) {
    std::lock_guard lock(round_mu_);
    if (round != round_) return;  // a round that gave up waiting
    results_[i] = std::move(status);
    completed_.push_back(i);
    if (counted) --outstanding_;
    round_cv_.notify_all();
  }

  // What the round's results do to each published row.
  RoundResult Judge(const std::vector<OutboxRow>& rows, std::vector<RowOutcome>& outcomes) {
    RoundResult round;
    bool any_ok = false, any_row_fault = false, unanswered = false;
    size_t chains = 0;  // aggregates published to
    const Status* first_error = nullptr;
    for (size_t i = 0; i < rows.size(); ++i) {
      if (!published_[i]) continue;
      ++round.published;
      if (rows[i].id == rows[i].head_id) ++chains;
      if (!answered_[i]) {
        unanswered = true;
        continue;
      }
      const Status& r = results_[i];
      if (r.ok()) any_ok = true;
      if (!r.ok() && first_error == nullptr) first_error = &r;
      if (r.code() == ErrorCode::kClosed) round.closed = true;
      if (!r.ok() && !r.retriable() && r.code() != ErrorCode::kClosed) any_row_fault = true;
    }
    // All failed, retriably: an outage, unless it was one aggregate's rows
    // alone (then nothing tells the broker's fault from the rows') and the
    // transport still says it is connected.
    // Publishes the broker never answered say the same.
    round.outage =
        !any_ok && !any_row_fault && !round.closed &&
        (unanswered || (first_error != nullptr && (chains > 1 || !bus_.health().connected)));
    const int64_t now = outbox::NowMicros();
    for (size_t i = 0; i < rows.size(); ++i) {
      if (!answered_[i]) continue;  // left as it was, published again later
      const Status& r = results_[i];
      RowOutcome& o = outcomes[i];
      if (r.ok()) {
        o.kind = RowOutcome::kAcked;
        continue;
      }
      // Not the row's fault: the bus closing, or the broker down for all.
      if (r.code() == ErrorCode::kClosed || round.outage) continue;
      o.attempts = rows[i].attempts + 1;
      o.error = r.ToString();
      if (!r.retriable() || o.attempts >= options_.retry.max_attempts) {
        o.kind = RowOutcome::kDead;
      } else {
        o.kind = RowOutcome::kRetry;
        o.next_attempt_us = now + std::chrono::duration_cast<std::chrono::microseconds>(
                                      core::RetryBackoff(options_.retry, o.attempts))
                                      .count();
      }
    }
    if (round.outage && first_error != nullptr) Problem(*first_error);
    return round;
  }

  // Every status_interval: the row counts, and the retention's deletes.
  void Maintain() {
    if (!store_) return;
    const int64_t now = outbox::NowMicros();
    const int64_t cutoff =
        now - std::chrono::duration_cast<std::chrono::microseconds>(options_.retention).count();
    constexpr int kDeleteBatch = 1000;
    uint64_t deleted = 0;
    for (;;) {
      Result<int64_t> n = store_->DeletePublished(cutoff, kDeleteBatch);
      if (!n.ok()) {
        Problem(n.status());
        return;
      }
      deleted += static_cast<uint64_t>(*n);
      if (*n < kDeleteBatch || stopping()) break;
    }
    Result<OutboxStatus> status = store_->ReadStatus(now);
    if (!status.ok()) {
      Problem(status.status());
      return;
    }
    std::lock_guard lock(stats_mu_);
    stats_.deleted += deleted;
    stats_.pending_rows = status->pending;
    stats_.dead_rows = status->dead;
    stats_.oldest_pending_age = status->oldest_pending_age;
  }

  Status Reconnect() {
    Result<std::unique_ptr<outbox::Store>> store =
        outbox::OpenStore(options_.database, {.relaxed_sync = true});
    if (!store.ok()) return store.status();
    store_ = std::move(*store);
    return Status::Ok();
  }

  void Count(const std::vector<RowOutcome>& outcomes) {
    std::lock_guard lock(stats_mu_);
    ++stats_.rounds;
    for (const RowOutcome& o : outcomes) {
      if (o.kind == RowOutcome::kAcked) ++stats_.published;
      if (o.kind == RowOutcome::kRetry || o.kind == RowOutcome::kDead) ++stats_.failed_attempts;
      if (o.kind == RowOutcome::kDead) ++stats_.went_dead, ++stats_.dead_rows;
    }
  }

  void SetDatabaseOk() {
    std::lock_guard lock(stats_mu_);
    stats_.database_ok = true;
  }

  void Problem(const Status& s) {
    {
      std::lock_guard lock(stats_mu_);
      stats_.last_error = s.ToString();
      if (s.message().starts_with("sqlite") || s.message().starts_with("postgresql")) {
        stats_.database_ok = false;
      }
    }
    if (options_.on_error) options_.on_error(s);
  }

  EventBus& bus_;
  const OutboxRelayOptions options_;
  std::unique_ptr<outbox::Store> store_;  // the relay thread's; null while disconnected
  const int lock_fd_;
  // The round in flight. results_[i] is written (under round_mu_) by row
  // i's one completion while its round is current, and read by the relay
  // thread after it took i from completed_ or ended the round.
  Envelope envelope_;  // the row being published (reused)
  std::vector<Status> results_;
  std::vector<bool> published_;  // relay thread only
  std::vector<bool> answered_;   // relay thread only
  std::vector<size_t> next_;     // the next row of the same aggregate, or kNone

  std::mutex round_mu_;
  std::condition_variable round_cv_;
  uint64_t round_ = 0;             // the current round; completions of older ones are ignored
  std::vector<size_t> completed_;  // rows completed and not yet looked at (at most the round)
  size_t outstanding_ = 0;         // publishes accepted and not yet completed

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;

  mutable std::mutex stats_mu_;
  OutboxRelayStats stats_;

  core::Thread thread_;
};

namespace {

Status ValidateOptions(const OutboxRelayOptions& o) {
  if (o.database.empty()) return InvalidArgument("OutboxRelayOptions.database: empty");
  if (o.batch_size < 1 || o.batch_size > 100000) {
    return InvalidArgument("OutboxRelayOptions.batch_size: must be 1..100000, got " +
                           std::to_string(o.batch_size));
  }
  if (o.poll_interval.count() < 1) {
    return InvalidArgument("OutboxRelayOptions.poll_interval: must be >= 1 ms");
  }
  if (o.retry.max_attempts < 1) {
    return InvalidArgument("OutboxRelayOptions.retry.max_attempts: must be >= 1, got " +
                           std::to_string(o.retry.max_attempts));
  }
  if (o.ack_timeout.count() < 1) {
    return InvalidArgument("OutboxRelayOptions.ack_timeout: must be >= 1 ms");
  }
  if (o.retention.count() < 0) return InvalidArgument("OutboxRelayOptions.retention: negative");
  if (o.status_interval.count() < 1) {
    return InvalidArgument("OutboxRelayOptions.status_interval: must be >= 1 ms");
  }
  return Status::Ok();
}

// The SQLite relay lock: an flock on a file beside the database, held while
// the relay lives and released by the kernel if its process dies.
Result<int> LockSqliteRelay(const outbox::DatabaseUrl& url) {
  if (url.kind != outbox::DatabaseUrl::kSqlite || url.lock_path.empty()) return -1;
  const int fd = ::open(url.lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Status(ErrorCode::kUnavailable,
                  "outbox relay: open " + url.lock_path + ": " + std::strerror(errno));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return Status(ErrorCode::kAlreadyExists,
                    "outbox relay: another relay already serves " + url.target +
                        " (SQLite allows one per database; lock " + url.lock_path + ")");
    }
    return Status(ErrorCode::kUnavailable,
                  "outbox relay: flock " + url.lock_path + ": " + std::strerror(err));
  }
  return fd;
}

}  // namespace

Result<std::unique_ptr<OutboxRelay>> OutboxRelay::Start(EventBus& bus, OutboxRelayOptions options) {
  if (Status s = ValidateOptions(options); !s.ok()) return s;
  Result<outbox::DatabaseUrl> url = outbox::ParseDatabaseUrl(options.database);
  if (!url.ok()) return url.status();
  Result<int> lock = LockSqliteRelay(*url);
  if (!lock.ok()) return lock.status();
  Result<std::unique_ptr<outbox::Store>> store =
      outbox::OpenStore(options.database, {.relaxed_sync = true});
  Status s = store.status();
  if (s.ok()) s = (*store)->Migrate();
  if (!s.ok()) {
    if (*lock >= 0) ::close(*lock);
    return s;
  }
  auto impl = std::make_unique<Impl>(bus, std::move(options), std::move(*store), *lock);
  impl->StartThread();
  return std::unique_ptr<OutboxRelay>(new OutboxRelay(std::move(impl)));
}

OutboxRelay::OutboxRelay(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
OutboxRelay::~OutboxRelay() = default;
void OutboxRelay::Close() { impl_->Close(); }
OutboxRelayStats OutboxRelay::stats() const { return impl_->stats(); }

OutboxRelayHealth OutboxRelay::health() const {
  const OutboxRelayStats s = stats();
  OutboxRelayHealth h;
  if (!s.database_ok) {
    h.detail = "database unreachable: " + s.last_error;
  } else if (s.dead_rows > 0) {
    h.detail = std::to_string(s.dead_rows) +
               " dead row(s) hold back their aggregates (evbus outbox status; evbus outbox retry)";
  }
  h.healthy = h.detail.empty();
  return h;
}

std::string OutboxRelay::MetricsText() const {
  const OutboxRelayStats s = stats();
  std::string out;
  auto add = [&out](const char* name, const char* type, const char* help, double value) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" +
           name + " " + std::to_string(value) + "\n";
  };
  add("evbus_outbox_published_total", "counter", "Rows acknowledged by the broker and marked.",
      static_cast<double>(s.published));
  add("evbus_outbox_failed_attempts_total", "counter", "Publishes that failed, charged to a row.",
      static_cast<double>(s.failed_attempts));
  add("evbus_outbox_went_dead_total", "counter", "Rows that became dead.",
      static_cast<double>(s.went_dead));
  add("evbus_outbox_pending_rows", "gauge", "Rows not yet published.",
      static_cast<double>(s.pending_rows));
  add("evbus_outbox_dead_rows", "gauge", "Dead rows (evbus outbox retry).",
      static_cast<double>(s.dead_rows));
  add("evbus_outbox_oldest_pending_seconds", "gauge", "Age of the oldest pending row.",
      static_cast<double>(s.oldest_pending_age.count()) / 1000.0);
  add("evbus_outbox_database_up", "gauge", "1 if the last database call succeeded.",
      s.database_ok ? 1.0 : 0.0);
  return out;
}

}  // namespace evbus
