#include "core/consumer_loop.h"

#include <algorithm>

namespace evbus::core {
namespace {

using std::chrono::milliseconds;

// How long a revoked partition's in-flight work may run before it is dropped.
constexpr auto kRevokeDrainTimeout = std::chrono::seconds(10);

}  // namespace

ConsumerLoop::ConsumerLoop(uint64_t bus_id, const SubscriberConfig& config,
                           std::unique_ptr<transport::Consumer> consumer, Dispatcher& dispatcher,
                           Counters& counters, std::function<void(const Status&)> report_error)
    : bus_id_(bus_id),
      config_(config),
      consumer_(std::move(consumer)),
      eager_commit_after_(consumer_->EagerCommitAfter()),
      dispatcher_(dispatcher),
      counters_(counters),
      report_error_(std::move(report_error)) {}

ConsumerLoop::~ConsumerLoop() { Finish(transport::Clock::now()); }

Status ConsumerLoop::Start(Subscriptions subs) {
  std::vector<std::string> topics;
  for (const auto& [topic, sub] : subs) topics.push_back(topic);
  if (Status s = consumer_->Subscribe(topics, this); !s.ok()) return s;
  subs_ = std::move(subs);
  thread_ = Thread::Start("evb-poll", "consumer", bus_id_, [this] { Run(); });
  return Status();
}

void ConsumerLoop::Resubscribe(Subscriptions subs) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    pending_subs_ = std::move(subs);
  }
  consumer_->Wakeup();
}

void ConsumerLoop::StopIntake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    intake_stopped_ = true;
  }
  consumer_->Wakeup();
  cv_.notify_all();
}

ConsumerLoop::FinishReport ConsumerLoop::Finish(transport::Clock::time_point deadline) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!finishing_) {
      finishing_ = true;
      intake_stopped_ = true;
      finish_deadline_ = deadline;
    }
  }
  consumer_->Wakeup();
  cv_.notify_all();
  thread_.Join();
  std::lock_guard<std::mutex> lock(mu_);
  return finish_report_;
}

void ConsumerLoop::OnReleased(const InFlight& m, int left) {
  // Wake the poller only when this release may let it resume fetching.
  // Sequentially consistent, as the counts' decrements before it and
  // ApplyBackpressure's flag stores and re-reads: either the poller sees
  // this release when it re-reads the counts after pausing, or this sees
  // the pause. (Not fences: ThreadSanitizer does not support them.)
  if (!any_paused_.load(std::memory_order_seq_cst)) return;
  const bool partition_room =
      m.partition->paused.load(std::memory_order_seq_cst) && left <= config_.window / 2;
  const bool budget_room =
      budget_paused_.load(std::memory_order_seq_cst) &&
      counters_.in_flight_bytes.load(std::memory_order_seq_cst) <= config_.memory_budget / 2;
  if ((partition_room || budget_room) && !wake_requested_.exchange(true)) consumer_->Wakeup();
}

void ConsumerLoop::Run() {
  std::vector<transport::RecordPtr> records;
  records.reserve(static_cast<size_t>(config_.max_poll_records));
  auto next_commit = transport::Clock::now() + config_.commit_interval;
  auto next_sample = transport::Clock::now() + config_.backlog_interval;
  const auto poll_timeout =
      std::max(milliseconds(1), std::chrono::duration_cast<milliseconds>(config_.commit_interval));
  for (;;) {
    std::optional<Subscriptions> resubscribe;
    bool intake_stopped;
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (finishing_) break;
      resubscribe.swap(pending_subs_);
      intake_stopped = intake_stopped_;
      if (intake_stopped) {
        // Draining: fetch nothing; keep committing what the workers settle.
        cv_.wait_for(lock, config_.commit_interval, [&] { return finishing_; });
        if (finishing_) break;
      }
    }
    if (resubscribe) {
      std::vector<std::string> topics;
      for (const auto& [topic, sub] : *resubscribe) topics.push_back(topic);
      subs_ = std::move(*resubscribe);
      if (Status s = consumer_->Subscribe(topics, this); !s.ok()) report_error_(s);
    }
    if (!intake_stopped) {
      const bool room_came_back = ApplyBackpressure();
      wake_requested_.store(false, std::memory_order_release);
      records.clear();
      dispatcher_.pool().TakeSpareRecords(spare_records_);
      if (!spare_records_.empty()) consumer_->Recycle(spare_records_);
      Status s = consumer_->Poll(records, static_cast<size_t>(config_.max_poll_records),
                                 room_came_back ? milliseconds(0) : poll_timeout);
      if (!s.ok()) report_error_(s);
      if (!records.empty()) Route(records);
    }
    if (transport::Clock::now() >= next_commit) {
      CommitFrontier(std::nullopt);
      next_commit = transport::Clock::now() + config_.commit_interval;
    } else if (eager_commit_after_ > 0) {
      CommitEager();
    }
    if (board_ != nullptr && transport::Clock::now() >= next_sample) {
      SampleBacklog();
      next_sample = transport::Clock::now() + config_.backlog_interval;
    }
  }

  // Final commit, then leave the group (which revokes, and commits again),
  // leaving time to tear the client down.
  transport::Clock::time_point deadline;
  {
    std::lock_guard<std::mutex> lock(mu_);
    deadline = transport::WaitsEndBefore(finish_deadline_);
  }
  revoke_deadline_ = deadline;
  closing_ = true;
  consumer_->TakeReports();
  CommitFrontier(deadline);
  Status left = consumer_->Close(deadline);
  if (!left.ok()) report_error_(left);
  for (auto& [tp, p] : partitions_) {
    // Still assigned (the group was not left in time): a frontier that moved
    // since the last good commit was never written.
    if (p->TakeCommit()) close_uncommitted_.insert(tp);
    p->Abandon();
  }
  partitions_.clear();
  std::lock_guard<std::mutex> lock(mu_);
  finish_report_.partitions_committed = close_commits_;
  finish_report_.partitions_uncommitted = close_uncommitted_.size();
  finish_report_.status = !close_uncommitted_.empty() ? close_commit_error_ : left;
}

void ConsumerLoop::Route(std::vector<transport::RecordPtr>& records) {
  // Kept between polls (this thread only): a fresh vector per poll was a
  // large malloc/free pair on the hottest thread.
  std::vector<std::pair<LaneScheduler::Unit, InFlight*>>& batch = route_batch_;
  batch.clear();
  const auto now = transport::Clock::now();
  // A poll returns runs of one partition: look each run up once.
  auto pit = partitions_.end();
  auto sit = subs_.end();
  for (transport::RecordPtr& ptr : records) {
    const Record& r = *ptr;
    if (pit == partitions_.end() || pit->first.partition != r.partition ||
        pit->first.topic != r.topic) {
      pit = partitions_.find(transport::TopicPartition{r.topic, r.partition});
      if (pit == partitions_.end()) continue;  // not assigned (revoked meanwhile): never tracked
      sit = subs_.find(r.topic);
    }
    if (sit == subs_.end()) {
      // Every subscribed topic has a handler; should a record ever arrive
      // without one, it is tracked and never settled, so neither it nor
      // anything after it in its partition can be committed.
      pit->second->Track(r.offset);
      report_error_(Internal("record of " + r.topic + " has no handler; partition " +
                             transport::ToString(pit->first) + " blocked"));
      continue;
    }
    InFlight* m = dispatcher_.pool().New();
    m->partition = pit->second;
    m->seq = m->partition->Track(r.offset);
    m->bytes = static_cast<int64_t>(r.payload.size() + r.key.size() + sizeof(InFlight));
    m->received_at = now;
    counters_.in_flight.fetch_add(1, std::memory_order_relaxed);
    counters_.in_flight_bytes.fetch_add(m->bytes, std::memory_order_relaxed);
    m->subscription = sit->second;
    m->record = std::move(ptr);
    batch.emplace_back(Dispatcher::UnitFor(*m->subscription, *m->record), m);
  }
  dispatcher_.Enqueue(batch);
}

void ConsumerLoop::SampleBacklog() {
  const auto now = transport::Clock::now();
  std::map<transport::TopicPartition, int64_t> lag;
  if (with_lag_) {
    for (const transport::PartitionLag& l : consumer_->Lag()) lag[l.tp] = l.lag;
  }
  std::vector<PartitionBacklog> out;
  out.reserve(partitions_.size());
  for (auto& [tp, p] : partitions_) {
    PartitionBacklog b;
    b.topic = tp.topic;
    b.partition = tp.partition;
    auto it = lag.find(tp);
    b.lag = it == lag.end() ? 0 : it->second;
    b.in_flight = p->in_flight();
    // Stalled: the frontier has not moved since the last sample although
    // messages are in flight (a blocked handler, a lane waiting on dead-lettering).
    const int64_t committable = p->committable();
    if (committable != p->last_seen_committable || b.in_flight == 0) {
      p->last_seen_committable = committable;
      p->last_advance = now;
    }
    b.stalled_for = std::chrono::duration_cast<std::chrono::milliseconds>(now - p->last_advance);
    b.stalled = config_.stall_timeout.count() > 0 && b.in_flight > 0 &&
                now - p->last_advance >= config_.stall_timeout;
    out.push_back(std::move(b));
  }
  board_->Post(std::move(out));
}

bool ConsumerLoop::ApplyBackpressure() {
  const int64_t bytes = counters_.in_flight_bytes.load(std::memory_order_relaxed);
  if (!budget_paused_ && bytes >= config_.memory_budget) {
    budget_paused_ = true;
  } else if (budget_paused_ && bytes <= config_.memory_budget / 2) {
    budget_paused_ = false;
  }
  bool any = false;
  for (auto& [tp, p] : partitions_) {
    const int n = p->in_flight();
    const bool was = p->paused.load(std::memory_order_relaxed);
    bool pause = budget_paused_ || n >= config_.window || (was && n > config_.window / 2);
    if (pause != was) {
      p->paused.store(pause, std::memory_order_seq_cst);
      if (pause) {
        consumer_->Pause(tp);
        counters_.pauses.fetch_add(1, std::memory_order_relaxed);
      } else {
        consumer_->Resume(tp);
      }
    }
    any = any || pause;
  }
  any_paused_.store(any, std::memory_order_seq_cst);
  if (!any) return false;
  // Releases between the counts read above and the flags just stored found
  // nothing paused and woke nobody: without this re-read (seq_cst, see
  // OnReleased), a poll over paused partitions would sleep its whole timeout
  // (100 ms by default) with the workers idle.
  if (budget_paused_ &&
      counters_.in_flight_bytes.load(std::memory_order_seq_cst) <= config_.memory_budget / 2) {
    return true;
  }
  for (auto& [tp, p] : partitions_) {
    if (p->paused.load(std::memory_order_relaxed) && p->in_flight() <= config_.window / 2) {
      return true;
    }
  }
  return false;
}

uint64_t ConsumerLoop::CommitFrontier(std::optional<transport::Clock::time_point> wait_until) {
  std::vector<PartitionState*> all;
  all.reserve(partitions_.size());
  for (auto& [tp, p] : partitions_) all.push_back(p.get());
  return Commit(all, wait_until);
}

void ConsumerLoop::CommitEager() {
  std::vector<PartitionState*> due;
  for (auto& [tp, p] : partitions_) {
    if (p->uncommitted() >= eager_commit_after_) due.push_back(p.get());
  }
  if (!due.empty()) Commit(due, std::nullopt);
}

uint64_t ConsumerLoop::Commit(const std::vector<PartitionState*>& partitions,
                              std::optional<transport::Clock::time_point> wait_until) {
  std::vector<transport::CommitOffset> offsets;
  std::vector<PartitionState*> states;
  for (PartitionState* p : partitions) {
    if (std::optional<int64_t> o = p->TakeCommit()) {
      offsets.push_back({p->tp(), *o});
      states.push_back(p);
    }
  }
  if (offsets.empty()) return 0;
  Status s = consumer_->Commit(offsets, wait_until);
  if (!s.ok()) {
    for (size_t i = 0; i < offsets.size(); ++i) states[i]->CommitFailed(offsets[i].next_offset);
    if (closing_) {
      for (const auto& o : offsets) close_uncommitted_.insert(o.tp);
      close_commit_error_ = s;
    }
    report_error_(s);
    return 0;
  }
  counters_.commits.fetch_add(offsets.size(), std::memory_order_relaxed);
  if (closing_) {
    close_commits_ += offsets.size();
    for (const auto& o : offsets) close_uncommitted_.erase(o.tp);
  }
  return offsets.size();
}

void ConsumerLoop::OnAssigned(const std::vector<transport::TopicPartition>& partitions) {
  for (const auto& tp : partitions) {
    partitions_[tp] = std::make_shared<PartitionState>(tp);
  }
}

void ConsumerLoop::OnRevoked(const std::vector<transport::TopicPartition>& partitions, bool lost) {
  const auto deadline = revoke_deadline_ != transport::Clock::time_point{}
                            ? revoke_deadline_
                            : transport::Clock::now() + kRevokeDrainTimeout;
  for (const auto& tp : partitions) {
    auto it = partitions_.find(tp);
    if (it == partitions_.end()) continue;
    PartitionState& p = *it->second;
    if (lost) {
      p.Abandon();
      report_error_(
          Status(ErrorCode::kUnavailable, "partition " + transport::ToString(tp) +
                                              " lost; its in-flight work is dropped uncommitted"));
    } else {
      if (!p.WaitIdle(deadline)) p.Abandon();  // too slow: redelivered to the next owner
      Commit({&p}, deadline);
    }
    partitions_.erase(it);
  }
}

}  // namespace evbus::core
