#include "transport/nats/nats_consumer.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>

#include "core/thread.h"
#include "transport/nats/nats_common.h"
#include "transport/nats/nats_ephemeral.h"
#include "transport/nats/nats_leases.h"
#include "transport/nats/nats_notices.h"
#include "transport/spare_records.h"

namespace evbus::transport::nats {
namespace {

// How often the lease keeper looks whether the polling thread is away.
constexpr auto kKeeperTick = std::chrono::milliseconds(250);
// With notices, how often a quiet member still fetches one partition (in
// turn) with no notice: it finds what no notice tells of, as redeliveries
// and messages whose notice was lost in a reconnect. Rare, as such a fetch
// (up to kFetchSliceMs) delays the notices of the others.
constexpr auto kUntoldFetchEvery = std::chrono::seconds(1);
// A partition that fetched nothing for this long has its durable consumer
// checked (one partition per lease step): see CheckQuietConsumer.
constexpr auto kQuietCheckAfter = std::chrono::seconds(5);

std::string NewMemberId(uint64_t bus_id) {
  static std::atomic<uint64_t> n{0};
  char host[64] = {0};
  ::gethostname(host, sizeof(host) - 1);
  return Sanitize(std::string(host) + "-" + std::to_string(::getpid()) + "-" +
                  std::to_string(bus_id) + "-" + std::to_string(n++));
}

// A fetched message, not yet acked.
struct Held {
  natsMsg* msg;
  Clock::time_point touched;  // fetched, or last InProgress
};

struct Part {
  TopicPartition tp;
  std::string stream;
  std::string durable;
  std::string subject;
  natsSubscription* sub = nullptr;
  // The consumer sequence of the last delivery fetched (0: none yet), and
  // whether deliveries after it never arrived (see Fetch).
  uint64_t last_delivery = 0;
  bool lost_deliveries = false;
  // After a failed reattach (the consumer has no leader yet): not before
  // this, and how many failed in a row.
  Clock::time_point reattach_after{};
  int reattach_failures = 0;
  bool paused = false;
  // Messages the server has for us beyond those fetched (the last fetched
  // message's pending count, plus what notices told since): 0 after a fetch
  // found none; unknown (-1) at first.
  int64_t backlog = -1;
  // The stream sequence up to which messages are counted (fetched, or in
  // `backlog`); 0: unknown, so a notice cannot be turned into a count.
  uint64_t counted_through = 0;
  // A notice told of messages that cannot be counted (counted_through
  // unknown): a waiting fetch finds them and their count.
  bool told_uncounted = false;
  // Part of `backlog` comes from notices, not from the server's count: it
  // is fetched by a waiting fetch, which costs at most kFetchSliceMs if the
  // count is high (a no_wait one would wait for its whole expiry).
  bool backlog_told = false;
  // Messages that fetches which gave up at their deadline may still bring
  // (asked for, not received), at most MaxAckPending (see GuardedFetch).
  int64_t may_arrive = 0;
  std::map<uint64_t, Held> held;  // by stream sequence
  // The highest stream sequence acked (Commit): a consumer made again after
  // the server lost it starts after this one.
  uint64_t acked_through = 0;
  // When a fetch last brought a message (or the partition was attached),
  // and when its consumer is next checked if it stays quiet.
  Clock::time_point last_message{};
  Clock::time_point next_check{};
};

// Unacked messages the server lets one partition's consumer have. The
// engine's window bounds the messages in flight (read, not settled); acks go
// out only when the engine commits, so settled messages wait unacked until
// then. With MaxAckPending = window the server stopped delivering while the
// engine had room. The second window covers what settles between two
// commits; and the engine commits a partition as soon as half a window has
// settled (EagerCommitAfter), not only every subscriber.commit_interval,
// which capped throughput at one window per interval per partition.
int64_t MaxAckPending(const Config& config) { return 2 * int64_t{config.subscriber.window}; }
int64_t EagerCommitAfter(const Config& config) {
  return std::max<int64_t>(1, config.subscriber.window / 2);
}

// Fills `r` (a spare or a new record: every field is assigned).
RecordPtr ToRecord(std::shared_ptr<Record> r, const TopicPartition& tp, natsMsg* msg, uint64_t seq,
                   int64_t time_ns) {
  r->topic.assign(tp.topic);
  r->partition = tp.partition;
  r->offset = static_cast<int64_t>(seq) - 1;
  r->timestamp = std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::nanoseconds(time_ns)));
  if (const char* data = natsMsg_GetData(msg)) {
    r->payload.assign(data, static_cast<size_t>(natsMsg_GetDataLength(msg)));
  } else {
    r->payload.clear();
  }
  FillKeyAndHeaders(msg, *r);
  return r;
}

class NatsConsumer final : public Consumer {
 public:
  NatsConsumer(NatsSession& session, NatsStreams& streams, std::string group)
      : session_(session),
        streams_(streams),
        group_(std::move(group)),
        ephemeral_(session, group_),
        notices_(session) {
    session_.Pin();
  }
  ~NatsConsumer() override {
    if (!closed_) {
      StopKeeper();
      for (auto& [tp, part] : parts_) Drop(*part, /*nak=*/true);
      parts_.clear();
      ephemeral_.UnsubscribeAll();
      notices_.UnsubscribeAll();
      session_.Unpin();
    }
  }

  Status Subscribe(const std::vector<std::string>& topics, RebalanceListener* listener) override {
    if (closed_) return Closed("consumer is closed");
    std::vector<std::string> stored, ephemeral;
    for (const std::string& t : topics) {
      (streams_.ephemeral(t) ? ephemeral : stored).push_back(t);
      if (Status s = streams_.Ensure(t); !s.ok()) return s;
    }
    if (Status s = session_.Connect(); !s.ok()) return s;
    // Ephemeral topics' partitions are this member's from now on; the
    // listener hears of it in the next Poll, where rebalance callbacks run.
    if (Status s = ephemeral_.Set(ephemeral, &ephemeral_added_, &ephemeral_removed_); !s.ok()) {
      return s;
    }
    if (StreamsSendNotices(session_.config().nats)) {
      if (Status s = notices_.Set(stored); !s.ok()) return s;
    }
    if (!leases_) {
      leases_ = std::make_unique<Leases>(session_, group_, NewMemberId(session_.bus_id()));
    }
    topics_ = stored;
    listener_ = listener;
    next_step_ = Clock::time_point{};  // claim at the next Poll
    if (!keeper_.joinable()) {
      keeper_ = core::Thread::Start("evb-nats-lease", "nats-consumer", session_.bus_id(),
                                    [this] { KeeperMain(); });
    }
    return Status();
  }

  Status Poll(std::vector<RecordPtr>& out, size_t max, std::chrono::milliseconds timeout) override {
    if (!leases_) return FailedPrecondition("poll before subscribe");
    if (closed_) return Closed("consumer is closed");
    Status status = Maintain();
    if (listener_ != nullptr && !ephemeral_removed_.empty()) {
      listener_->OnRevoked(ephemeral_removed_, /*lost=*/false);
    }
    if (listener_ != nullptr && !ephemeral_added_.empty()) listener_->OnAssigned(ephemeral_added_);
    ephemeral_removed_.clear();
    ephemeral_added_.clear();
    // At most half a poll from the ephemeral topics up front, so that a
    // steady stream of them cannot starve the stored partitions.
    ephemeral_.Take(out, std::max<size_t>(1, max / 2), std::chrono::milliseconds(0), spare_);
    // Back for the next lease step: the leases are refreshed on time, and a
    // member without partitions (nothing to fetch) claims as soon as it may.
    const auto deadline = std::min(Clock::now() + timeout, next_step_);
    // Held across fetches (at most kFetchSliceMs each): the keeper only
    // tries the lock, and Commit and Pause come from this thread.
    std::unique_lock<std::mutex> state(mu_);
    for (;;) {
      if (wakeup_.exchange(false)) break;
      std::vector<Part*> ready;
      const auto now = Clock::now();
      for (auto& [tp, part] : parts_) {
        // Without MaxAckPending room nothing comes before the next commit
        // (after Poll returns): fetching would spin until the deadline.
        if (!part->paused && Room(*part) > 0 && Fetchable(*part, now)) {
          ready.push_back(part.get());
        }
      }
      // Nothing stored to fetch: wait on the ephemeral topics' messages, a
      // slice at a time (so a wakeup is seen), as a fetch would.
      if (ready.empty() && !ephemeral_.empty() && session_.connected()) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) break;
        state.unlock();
        ephemeral_.Take(out, max, std::min(left, std::chrono::milliseconds(kFetchSliceMs)), spare_);
        state.lock();
        if (!out.empty()) break;
        continue;
      }
      // Disconnected: a fetch would only wait for the reconnect.
      if (ready.empty() || !session_.connected()) {
        state.unlock();
        std::unique_lock<std::mutex> lock(wake_mu_);
        wake_cv_.wait_until(lock, deadline, [&] { return wakeup_.load(); });
        wakeup_.store(false);
        break;
      }
      // Partitions with a backlog answer a no_wait fetch at once; when none
      // has one, a single short fetch waits for whatever comes next, or,
      // when every partition's stream sends notices, a wait on them.
      // Without notices (the default) none of their work is done here.
      const bool listening = notices_.listening();
      if (listening) {
        for (Part* p : ready) Count(*p);
      }
      const size_t start = rr_++;
      for (size_t i = 0; i < ready.size() && out.size() < max; ++i) {
        Part& p = *ready[(start + i) % ready.size()];
        // A notice proves a message is stored: a waiting fetch of one gets it
        // at once, and the count of those after it.
        const bool waits = p.backlog_told || (p.backlog <= 0 && p.told_uncounted);
        if (p.backlog <= 0 && !p.told_uncounted) continue;  // none, or not known yet
        if (Status s = Fetch(p, out, max, waits ? kFetchSliceMs : 0); !s.ok()) return s;
      }
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (!out.empty() || left <= 0) break;
      Part* untold = nullptr;  // one a notice cannot speak for (yet)
      for (size_t i = 0; i < ready.size() && untold == nullptr; ++i) {
        Part& p = *ready[(start + i) % ready.size()];
        if (!listening || p.backlog < 0 || !notices_.Heard(p.tp.topic)) untold = &p;
      }
      const auto at = Clock::now();
      if (untold == nullptr && at - last_untold_fetch_ < kUntoldFetchEvery) {
        state.unlock();
        notices_.Wait(std::min(deadline, last_untold_fetch_ + kUntoldFetchEvery),
                      [&] { return wakeup_.load(); });
        state.lock();
        continue;
      }
      Part& p = untold != nullptr ? *untold : *ready[start % ready.size()];
      if (untold == nullptr) last_untold_fetch_ = at;
      if (Status s = Fetch(p, out, max, std::clamp<int64_t>(left, 1, kFetchSliceMs)); !s.ok())
        return s;
      if (!out.empty() || Clock::now() >= deadline) break;
    }
    return status;
  }

  void Wakeup() override {
    {
      std::lock_guard<std::mutex> lock(wake_mu_);
      wakeup_.store(true);
    }
    wake_cv_.notify_all();
    notices_.Poke();
  }

  void Pause(const TopicPartition& tp) override {
    if (streams_.ephemeral(tp.topic)) return ephemeral_.SetPaused(tp.topic, true);
    std::lock_guard<std::mutex> state(mu_);
    if (auto it = parts_.find(tp); it != parts_.end()) it->second->paused = true;
  }
  void Resume(const TopicPartition& tp) override {
    if (streams_.ephemeral(tp.topic)) return ephemeral_.SetPaused(tp.topic, false);
    std::lock_guard<std::mutex> state(mu_);
    if (auto it = parts_.find(tp); it != parts_.end()) it->second->paused = false;
  }

  void Recycle(std::vector<std::shared_ptr<Record>>& records) override { spare_.Add(records); }

  // An ack per message either way: acking sooner costs nothing more.
  int64_t EagerCommitAfter() const override { return nats::EagerCommitAfter(session_.config()); }

  Status Commit(const std::vector<CommitOffset>& offsets,
                std::optional<Clock::time_point> wait_until) override {
    // A waited commit (close, revoke) with the server gone would only time
    // out: the messages stay unacked (redelivered after ack_wait) and say so.
    if (wait_until && !session_.connected()) {
      return Status(ErrorCode::kUnavailable, "nats ack not sent: the server connection is down");
    }
    std::lock_guard<std::mutex> state(mu_);
    Status result;
    for (const CommitOffset& o : offsets) {
      if (streams_.ephemeral(o.tp.topic)) continue;  // at-most-once: nothing to ack
      auto it = parts_.find(o.tp);
      // A lease the keeper found lost is not ours to ack on: its next owner
      // may have restarted the durable consumer already.
      if (it == parts_.end() || leases_ == nullptr || !leases_->Owns(o.tp)) {
        result = FailedPrecondition("commit: partition " + ToString(o.tp) +
                                    " is not assigned to this member");
        continue;
      }
      // Offsets below next_offset are settled: sequences up to next_offset.
      std::map<uint64_t, Held>& held = it->second->held;
      const auto through = static_cast<uint64_t>(std::max<int64_t>(0, o.next_offset));
      it->second->acked_through = std::max(it->second->acked_through, through);
      const auto end = held.upper_bound(through);
      for (auto h = held.begin(); h != end; h = held.erase(h)) {
        // The acks go out in order on one connection, so the server's
        // answer to the last one covers them all: only that one is waited
        // for, and no longer than wait_until.
        const bool last = std::next(h) == end;
        const int64_t wait_ms = wait_until ? Millis(*wait_until - Clock::now()) : 0;
        natsStatus s = NATS_OK;
        if (last && wait_ms > 0) {
          jsOptions jo;
          jsOptions_Init(&jo);
          jo.Wait = wait_ms;
          s = natsMsg_AckSync(h->second.msg, &jo, nullptr);
        } else {
          s = natsMsg_Ack(h->second.msg, nullptr);
          if (last && wait_until && s == NATS_OK) s = NATS_TIMEOUT;  // sent, not confirmed
        }
        natsMsg_Destroy(h->second.msg);
        if (s != NATS_OK && result.ok()) result = NatsError("ack " + ToString(o.tp), s);
      }
    }
    return result;
  }

  std::vector<PartitionLag> Lag() override {
    // The names are copied under mu_ and the server asked without it: the
    // lease keeper only tries mu_, and must not be kept from the leases for
    // as long as a stalled server takes to answer every partition.
    struct Named {
      TopicPartition tp;
      std::string stream;
      std::string durable;
    };
    std::vector<Named> named;
    {
      std::lock_guard<std::mutex> state(mu_);
      for (auto& [tp, part] : parts_) named.push_back({tp, part->stream, part->durable});
    }
    std::vector<PartitionLag> lags;
    for (const auto& [tp, stream, durable] : named) {
      jsConsumerInfo* ci = nullptr;
      jsErrCode jerr = static_cast<jsErrCode>(0);
      if (QueryConsumer(&ci, stream, durable, &jerr) != NATS_OK) continue;
      PartitionLag lag;
      lag.tp = tp;
      lag.committed = static_cast<int64_t>(ci->AckFloor.Stream);
      lag.lag = static_cast<int64_t>(ci->NumPending) + ci->NumAckPending;
      lag.log_end = lag.committed + lag.lag;
      jsConsumerInfo_Destroy(ci);
      lags.push_back(lag);
    }
    return lags;
  }

  Status Close(Clock::time_point deadline) override {
    if (closed_) return Status();
    closed_ = true;
    std::vector<TopicPartition> all;
    {
      std::lock_guard<std::mutex> state(mu_);
      for (auto& [tp, part] : parts_) all.push_back(tp);
    }
    // Ephemeral partitions the listener was told about.
    ephemeral_.UnsubscribeAll(&all);
    for (const TopicPartition& tp : ephemeral_added_) std::erase(all, tp);
    // The keeper holds the leases while the listener finishes their work.
    if (!all.empty() && listener_) listener_->OnRevoked(all, /*lost=*/false);
    StopKeeper();
    for (auto& [tp, part] : parts_) Drop(*part, /*nak=*/true);
    parts_.clear();
    notices_.UnsubscribeAll();
    // Handing the leases over needs the server; without it they expire.
    Status status;
    if (leases_ && session_.connected()) {
      leases_->Leave(deadline);
    } else if (leases_) {
      status = Status(ErrorCode::kUnavailable,
                      "nats consumer closed without handing its partitions over: the server "
                      "connection is down; its leases expire on their own");
    }
    session_.Unpin();
    return status;
  }

 private:
  // Lease step (about every kLeaseRefresh) and keep-alive of held messages.
  // The listener is called without mu_: it commits (and may wait for work).
  Status Maintain() {
    const auto now = Clock::now();
    Status result;
    {
      // A lapsed lease is lost even with the server gone: another member may
      // claim it as soon as the server is back.
      std::vector<TopicPartition> lapsed;
      {
        std::lock_guard<std::mutex> state(mu_);
        lapsed = leases_->Lapsed(now);
        lapsed.insert(lapsed.end(), keeper_lost_.begin(), keeper_lost_.end());
        keeper_lost_.clear();
      }
      Lose(lapsed);
    }
    // Disconnected, a step would only wait for its requests to time out.
    if (now >= next_step_ && !session_.connected()) next_step_ = now + kLeaseRefresh;
    if (now >= next_step_) {
      next_step_ = now + kLeaseRefresh;
      Result<Leases::Plan> plan = FailedPrecondition("unset");
      {
        std::lock_guard<std::mutex> state(mu_);
        last_refresh_ = now;
        plan = leases_->Step(topics_, Partitions(session_.config().nats));
      }
      if (!plan.ok()) {
        result = plan.status();
      } else {
        Lose(plan->lost);
        if (!plan->give_up.empty()) {
          if (listener_) listener_->OnRevoked(plan->give_up, /*lost=*/false);
          std::lock_guard<std::mutex> state(mu_);
          for (const TopicPartition& tp : plan->give_up) {
            Remove(tp, /*nak=*/true);
            leases_->Release(tp);
          }
        }
        std::vector<TopicPartition> assigned;
        {
          std::lock_guard<std::mutex> state(mu_);
          for (const TopicPartition& tp : plan->gained) {
            if (Status s = Add(tp); !s.ok()) {
              leases_->Release(tp);
              result = s;
            } else {
              assigned.push_back(tp);
            }
          }
        }
        if (!assigned.empty() && listener_) listener_->OnAssigned(assigned);
      }
      CheckQuietConsumer(now);
    }
    std::lock_guard<std::mutex> state(mu_);
    last_maintain_ = now;
    KeepAlive(now);
    return result;
  }

  // A fetch from a durable consumer that no longer exists (deleted, or lost
  // by a cluster in a failover) times out, as one from an empty partition
  // does. So the quietest partition due a check has its consumer asked for,
  // one per lease step and none more often than kQuietCheckAfter. Gone, or
  // with messages pending that our fetches do not get, it is reattached
  // (Reattach, on the next Fetch), after what this member acked.
  void CheckQuietConsumer(Clock::time_point now) {
    TopicPartition tp;
    std::string stream, durable;
    {
      std::lock_guard<std::mutex> state(mu_);
      Part* due = nullptr;
      for (auto& [key, part] : parts_) {
        Part& p = *part;
        if (p.sub == nullptr || p.lost_deliveries || p.paused || !p.held.empty()) continue;
        if (now - p.last_message < kQuietCheckAfter || now < p.next_check) continue;
        if (due == nullptr || p.last_message < due->last_message) due = &p;
      }
      if (due == nullptr) return;
      due->next_check = now + kQuietCheckAfter;
      tp = due->tp;
      stream = due->stream;
      durable = due->durable;
    }
    jsConsumerInfo* ci = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    const natsStatus s = QueryConsumer(&ci, stream, durable, &jerr);
    const bool gone = s == NATS_NOT_FOUND || jerr == JSConsumerNotFoundErr;
    const bool missed = s == NATS_OK && ci->NumPending > 0 && ci->NumAckPending == 0;
    jsConsumerInfo_Destroy(ci);
    if (!gone && !missed) return;
    std::lock_guard<std::mutex> state(mu_);
    auto it = parts_.find(tp);
    if (it == parts_.end() || !it->second->held.empty()) return;
    it->second->lost_deliveries = true;
  }

  // A durable consumer's state from the server. Both callers (Lag, for the
  // backlog sample, and CheckQuietConsumer) run on the polling thread, which
  // every partition of the member shares: each request waits at most
  // kReattachWaitMs, not the context's 5 s. Call without mu_.
  natsStatus QueryConsumer(jsConsumerInfo** ci, const std::string& stream,
                           const std::string& durable, jsErrCode* jerr) {
    jsOptions api;
    jsOptions_Init(&api);
    api.Wait = kReattachWaitMs;
    return js_GetConsumerInfo(ci, session_.js(), stream.c_str(), durable.c_str(), &api, jerr);
  }

  // Revokes `lost` partitions: their work is dropped, nothing acked.
  void Lose(const std::vector<TopicPartition>& lost) {
    if (lost.empty()) return;
    if (listener_) listener_->OnRevoked(lost, /*lost=*/true);
    std::lock_guard<std::mutex> state(mu_);
    for (const TopicPartition& tp : lost) Remove(tp, /*nak=*/false);
  }

  // Held messages get an InProgress before ack_wait runs out, so the server
  // never redelivers what we still hold: one older than ack_wait / 3 at a
  // pass, passes every ack_wait / 6 (so at most ack_wait / 2 passes between
  // two of its keep-alives), not at every Poll: walking thousands of held
  // messages per Poll was the polling thread's main cost. REQUIRES: mu_.
  void KeepAlive(Clock::time_point now) {
    const auto keep_alive = session_.config().nats.ack_wait / 3;
    if (now < next_keep_alive_) return;
    next_keep_alive_ = now + keep_alive / 2;
    for (auto& [tp, part] : parts_) {
      for (auto& [seq, h] : part->held) {
        if (now - h.touched < keep_alive) continue;
        natsStatus s = natsMsg_InProgress(h.msg, nullptr);
        (void)s;  // a failed keep-alive means a redelivery at worst
        h.touched = now;
      }
    }
  }

  // The lease keeper: while the polling thread is away (the bus draining on
  // close or on a revoke, when nothing polls for seconds), it refreshes the
  // leases and keeps held messages alive, so no other member takes over a
  // partition whose work is still being finished here. When the polling
  // thread holds mu_, it is at work and does this itself.
  void KeeperMain() {
    std::unique_lock<std::mutex> lock(keeper_mu_);
    while (!keeper_cv_.wait_for(lock, kKeeperTick, [&] { return keeper_stop_; })) {
      lock.unlock();
      KeepWhileAway();
      lock.lock();
    }
  }

  void KeepWhileAway() {
    std::unique_lock<std::mutex> state(mu_, std::try_to_lock);
    if (!state.owns_lock()) return;
    const auto now = Clock::now();
    if (now - last_maintain_ < 2 * kKeeperTick) return;  // polling, so maintained
    // Lapsed leases are let go here too (no more acks on them); the polling
    // thread revokes them when it is back.
    std::vector<TopicPartition> lapsed = leases_->Lapsed(now);
    keeper_lost_.insert(keeper_lost_.end(), lapsed.begin(), lapsed.end());
    if (now - last_refresh_ >= kLeaseRefresh && session_.connected()) {
      last_refresh_ = now;
      Result<std::vector<TopicPartition>> lost = leases_->Refresh();
      if (lost.ok()) keeper_lost_.insert(keeper_lost_.end(), lost->begin(), lost->end());
    }
    KeepAlive(now);
  }

  void StopKeeper() {
    {
      std::lock_guard<std::mutex> lock(keeper_mu_);
      keeper_stop_ = true;
    }
    keeper_cv_.notify_all();
    keeper_.Join();
  }

  Status Add(const TopicPartition& tp) {
    const Config& config = session_.config();
    auto part = std::make_unique<Part>();
    part->tp = tp;
    part->stream = StreamName(config.nats, tp.topic, tp.partition);
    part->durable = DurableName(config.nats, group_, tp.topic, tp.partition);
    part->subject = Subject(config.nats, tp.topic, tp.partition);
    if (Status s = Attach(*part); !s.ok()) return s;
    parts_[tp] = std::move(part);
    return Status();
  }

  // Ensures the partition's durable consumer (EnsureDurable) and subscribes
  // to it. `api` (may be null: the context's 5 s) bounds each JetStream API
  // request.
  Status Attach(Part& part, jsOptions* api = nullptr) {
    const Config& config = session_.config();
    jsConsumerConfig cc;
    jsConsumerConfig_Init(&cc);
    cc.Durable = part.durable.c_str();
    cc.FilterSubject = part.subject.c_str();
    cc.AckPolicy = js_AckExplicit;
    cc.MaxAckPending = MaxAckPending(config);
    cc.AckWait = Nanos(config.nats.ack_wait);
    if (config.nats.max_deliver > 0) cc.MaxDeliver = config.nats.max_deliver;
    cc.DeliverPolicy = config.subscriber.auto_offset_reset == OffsetReset::kEarliest
                           ? js_DeliverAll
                           : js_DeliverNew;
    if (part.acked_through > 0) {  // made again after it was lost: after what we acked
      cc.DeliverPolicy = js_DeliverByStartSequence;
      cc.OptStartSeq = part.acked_through + 1;
    }
    part.last_message = Clock::now();
    if (Status s = EnsureDurable(part, cc, api); !s.ok()) return s;
    natsStatus s = NATS_OK;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = part.stream.c_str();
    so.Consumer = part.durable.c_str();
    session_.Attributed([&] {
      s = js_PullSubscribe(&part.sub, session_.js(), part.subject.c_str(), part.durable.c_str(),
                           api, &so, &jerr);
    });
    if (s != NATS_OK) return NatsError("pull subscribe " + part.durable, s, jerr);
    return Status();
  }

  // Deliveries lost on the way (a fetch's answer, when the server leading
  // the consumer died): the server redelivers them only after AckWait, and
  // would meanwhile deliver what comes after them. So the consumer is
  // recreated at its ack floor, as for an orphaned one (EnsureDurable), and
  // subscribed to afresh: messages of the old subscription that still come
  // late are dropped with it. What we hold stays held; its redelivery
  // replaces the old delivery (Fetch) and is acked in its place.
  // Keeps trying on the next Fetch until it succeeds.
  //
  // This runs on the polling thread, which the member's other partitions
  // share: while the consumer has no leader (an election, seconds), each
  // request waits at most kReattachWaitMs and failed attempts back off, so
  // the other partitions keep flowing.
  Status Reattach(Part& part) {
    session_.Retire(part.sub);
    part.sub = nullptr;
    jsOptions api;
    jsOptions_Init(&api);
    api.Wait = kReattachWaitMs;
    if (Status s = Attach(part, &api); !s.ok()) {
      session_.Retire(part.sub);  // a subscribe that failed leaves none; be sure
      part.sub = nullptr;
      const int doublings = std::min(part.reattach_failures++, 3);
      part.reattach_after = Clock::now() + std::chrono::milliseconds(250 << doublings);
      return s;
    }
    part.last_delivery = 0;
    part.lost_deliveries = false;
    part.reattach_failures = 0;
    part.backlog = -1;
    part.counted_through = 0;
    part.told_uncounted = false;
    part.backlog_told = false;
    part.may_arrive = 0;
    return Status();
  }

  // Adds what notices told of since the partition was last counted to its
  // backlog. REQUIRES: mu_.
  void Count(Part& part) {
    const uint64_t told = notices_.Latest(part.tp);
    if (told <= part.counted_through) return;
    if (part.counted_through == 0 || part.backlog < 0) {
      part.told_uncounted = true;
      return;
    }
    // A stream per partition: its sequences are dense.
    part.backlog += static_cast<int64_t>(told - part.counted_through);
    part.counted_through = told;
    part.backlog_told = true;
  }

  // Whether the partition can be fetched from now (not waiting to reattach).
  static bool Fetchable(const Part& part, Clock::time_point now) {
    return part.sub != nullptr || now >= part.reattach_after;
  }

  // Creates the partition's durable consumer, or takes over an existing one.
  //
  // A consumer with messages delivered and not acked was being read by a
  // member that is gone (it died, or its lease lapsed). JetStream would
  // redeliver those only after AckWait, while a fetch now returns the
  // messages after them: a key's later versions would overtake its earlier
  // ones. So such a consumer is recreated to start right after its ack floor
  // (the committed frontier): everything unacknowledged is delivered again,
  // in log order. What the old owner handled but had not committed comes
  // again (at-least-once).
  Status EnsureDurable(const Part& part, jsConsumerConfig& cc, jsOptions* api = nullptr) {
    jsCtx* js = session_.js();
    const char* stream = part.stream.c_str();
    const std::string what = "consumer " + part.durable + " on " + part.stream;
    jsConsumerInfo* ci = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_GetConsumerInfo(&ci, js, stream, part.durable.c_str(), api, &jerr);
    if (s != NATS_OK && s != NATS_NOT_FOUND && jerr != JSConsumerNotFoundErr) {
      return NatsError(what, s, jerr);
    }
    if (s != NATS_OK) {
      s = js_AddConsumer(nullptr, js, stream, &cc, api, &jerr);
      return s == NATS_OK ? Status() : NatsError("create " + what, s, jerr);
    }
    const bool orphaned = ci->NumAckPending > 0;
    const uint64_t floor = ci->AckFloor.Stream;
    // The start position cannot change on update: keep the existing one.
    cc.DeliverPolicy = ci->Config->DeliverPolicy;
    cc.OptStartSeq = ci->Config->OptStartSeq;
    cc.OptStartTime = ci->Config->OptStartTime;
    const bool same = ci->Config->MaxAckPending == cc.MaxAckPending &&
                      ci->Config->AckWait == cc.AckWait &&
                      (cc.MaxDeliver <= 0 || ci->Config->MaxDeliver == cc.MaxDeliver);
    jsConsumerInfo_Destroy(ci);
    if (orphaned) {
      s = js_DeleteConsumer(js, stream, part.durable.c_str(), api, &jerr);
      if (s != NATS_OK && jerr != JSConsumerNotFoundErr) return NatsError("reset " + what, s, jerr);
      cc.DeliverPolicy = js_DeliverByStartSequence;
      cc.OptStartSeq = floor + 1;
      cc.OptStartTime = 0;
      s = js_AddConsumer(nullptr, js, stream, &cc, api, &jerr);
      return s == NATS_OK ? Status() : NatsError("recreate " + what, s, jerr);
    }
    if (same) return Status();
    // It exists with other settings (window, ack_wait): bring them up to date.
    s = js_UpdateConsumer(nullptr, js, stream, &cc, api, &jerr);
    return s == NATS_OK ? Status() : NatsError("update " + what, s, jerr);
  }

  // How many more unacked messages the server would deliver. REQUIRES: mu_.
  int64_t Room(const Part& part) const {
    return MaxAckPending(session_.config()) - static_cast<int64_t>(part.held.size());
  }

  // REQUIRES: mu_.
  void Remove(const TopicPartition& tp, bool nak) {
    auto it = parts_.find(tp);
    if (it == parts_.end()) return;
    Drop(*it->second, nak);
    parts_.erase(it);
  }

  // Hands back what is held (Nak: redelivered at once, to whoever owns the
  // partition next; not for a lost partition, whose durable consumer may be
  // another member's by now) and ends the subscription; the durable stays.
  void Drop(Part& part, bool nak) {
    for (auto& [seq, h] : part.held) {
      if (nak) {
        natsStatus s = natsMsg_Nak(h.msg, nullptr);
        (void)s;
      }
      natsMsg_Destroy(h.msg);
    }
    part.held.clear();
    session_.Retire(part.sub);
    part.sub = nullptr;
  }

  // Fetches up to max - out.size() records; wait_ms 0 = only what is there.
  //
  // nats-server 2.9 answers a no_wait request that carries an expiry (cnats
  // always sends one) only at that expiry when nothing is there. So a no_wait
  // fetch asks for no more than the partition's known backlog (the last
  // message's pending count) and MaxAckPending leaves room for: it is
  // answered at once, in full. A fetch that waits for new messages asks for
  // one. Either may be raised by GuardedFetch (cnats 3.4's overrun), which
  // then costs a no_wait fetch its expiry.
  Status Fetch(Part& part, std::vector<RecordPtr>& out, size_t max, int64_t wait_ms) {
    if (part.lost_deliveries || part.sub == nullptr) {
      if (!Fetchable(part, Clock::now())) return Status();
      if (Status s = Reattach(part); !s.ok()) return Status();  // again after a backoff
    }
    const int64_t room =
        std::min<int64_t>(static_cast<int64_t>(max - std::min(max, out.size())), Room(part));
    if (room <= 0) return Status();
    jsFetchRequest fr;
    jsFetchRequest_Init(&fr);
    if (wait_ms == 0) {
      fr.Batch = static_cast<int>(std::min<int64_t>(room, part.backlog));
      fr.NoWait = true;
      fr.Expires = kNoWaitAnswerMs * 1'000'000;
    } else {
      fr.Batch = static_cast<int>(std::clamp<int64_t>(part.backlog, 1, room));
      fr.Expires = wait_ms * 1'000'000;
    }
    part.told_uncounted = false;
    part.backlog_told = false;
    // Messages can still come late in numbers (after a stall, or pull
    // requests cnats held while it reconnected): see GuardedFetch.
    natsMsgList list{nullptr, 0};
    natsStatus s =
        GuardedFetch(&list, part.sub, &fr, part.may_arrive, MaxAckPending(session_.config()));
    if (s != NATS_OK) {
      natsMsgList_Destroy(&list);
      if (s == NATS_CONNECTION_CLOSED || s == NATS_INVALID_SUBSCRIPTION) {
        return NatsError("fetch " + ToString(part.tp), s);
      }
      part.backlog = 0;  // nothing there (timeout, no messages)
      return Status();
    }
    const auto now = Clock::now();
    if (list.Count > 0) part.last_message = now;
    for (int i = 0; i < list.Count; ++i) {
      natsMsg* msg = list.Msgs[i];
      jsMsgMetaData* meta = nullptr;
      if (natsMsg_GetMetaData(&meta, msg) != NATS_OK) continue;  // destroyed with the list
      const uint64_t seq = meta->Sequence.Stream;
      const uint64_t delivery = meta->Sequence.Consumer;
      const int64_t ts = meta->Timestamp;
      part.backlog = static_cast<int64_t>(meta->NumPending);
      part.counted_through = std::max(part.counted_through, seq + meta->NumPending);
      jsMsgMetaData_Destroy(meta);
      if (part.last_delivery != 0 && delivery > part.last_delivery + 1) {
        // Deliveries in between never came: this one and the rest of the
        // list are left unacked (redelivered), and the next fetch reattaches.
        part.lost_deliveries = true;
        break;
      }
      part.last_delivery = std::max(part.last_delivery, delivery);
      list.Msgs[i] = nullptr;
      auto [it, fresh] = part.held.try_emplace(seq, Held{msg, now});
      if (!fresh) {
        // Redelivered while we still hold it: keep the newer delivery, hand out nothing new.
        natsMsg_Destroy(it->second.msg);
        it->second = Held{msg, now};
        continue;
      }
      out.push_back(ToRecord(spare_.Take(), part.tp, msg, seq, ts));
    }
    natsMsgList_Destroy(&list);
    return Status();
  }

  NatsSession& session_;
  NatsStreams& streams_;
  const std::string group_;
  std::vector<std::string> topics_;  // stored (JetStream) topics
  EphemeralSubscriptions ephemeral_;
  Notices notices_;
  // When a partition was last fetched from with no notice (kUntoldFetchEvery).
  Clock::time_point last_untold_fetch_{};
  // Ephemeral partitions gained or lost, for the listener at the next Poll.
  std::vector<TopicPartition> ephemeral_added_;
  std::vector<TopicPartition> ephemeral_removed_;
  RebalanceListener* listener_ = nullptr;
  size_t rr_ = 0;
  SpareRecords spare_;  // refilled by Fetch (polling thread)
  Clock::time_point next_step_{};
  bool closed_ = false;
  // Shared by the polling thread and the keeper.
  std::mutex mu_;
  std::unique_ptr<Leases> leases_;  // set by the first Subscribe, before the keeper starts
  std::map<TopicPartition, std::unique_ptr<Part>> parts_;
  Clock::time_point last_refresh_{};         // leases last refreshed
  Clock::time_point last_maintain_{};        // the polling thread's last Maintain
  Clock::time_point next_keep_alive_{};      // KeepAlive walks the held messages no sooner
  std::vector<TopicPartition> keeper_lost_;  // found lost by the keeper, revoked by Poll
  // The keeper thread.
  std::mutex keeper_mu_;
  std::condition_variable keeper_cv_;
  bool keeper_stop_ = false;
  core::Thread keeper_;
  std::atomic<bool> wakeup_{false};
  std::mutex wake_mu_;
  std::condition_variable wake_cv_;
};

}  // namespace

std::unique_ptr<Consumer> NewNatsConsumer(NatsSession& session, NatsStreams& streams,
                                          const std::string& group) {
  return std::make_unique<NatsConsumer>(session, streams, group);
}

}  // namespace evbus::transport::nats
