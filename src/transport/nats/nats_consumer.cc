#include "transport/nats/nats_consumer.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <unordered_map>

#include "core/thread.h"
#include "transport/nats/nats_common.h"
#include "transport/nats/nats_ephemeral.h"
#include "transport/nats/nats_leases.h"
#include "transport/nats/nats_pull.h"
#include "transport/spare_records.h"

namespace evbus::transport::nats {
namespace {

// How often the lease keeper looks whether the polling thread is away.
constexpr auto kKeeperTick = std::chrono::milliseconds(250);

// How long a partition's pull request stays open at the server, and how long
// before that it is replaced (so no message waits for the next one). Short,
// because a request the server lost (its consumer's leader moved) is only
// noticed at its expiry.
constexpr auto kPullExpiry = std::chrono::milliseconds(1000);
constexpr auto kRenewBefore = std::chrono::milliseconds(200);
// The longest a Poll waits on the inbox at a time, so that it sees a Wakeup
// and the ephemeral topics' messages.
constexpr auto kWaitSlice = std::chrono::milliseconds(20);

// Acknowledges a delivery (kind: "+ACK", "-NAK", "+WPI") on its reply
// subject, as natsMsg_Ack does for cnats's own JetStream subscriptions.
natsStatus Acknowledge(natsConnection* nc, natsMsg* msg, const char* kind) {
  const char* reply = natsMsg_GetReply(msg);
  if (reply == nullptr || *reply == '\0') return NATS_ILLEGAL_STATE;
  return natsConnection_PublishString(nc, reply, kind);
}

// An ack the server confirms, waiting up to `wait_ms`.
natsStatus AcknowledgeSync(natsConnection* nc, natsMsg* msg, int64_t wait_ms) {
  const char* reply = natsMsg_GetReply(msg);
  if (reply == nullptr || *reply == '\0') return NATS_ILLEGAL_STATE;
  natsMsg* answer = nullptr;
  const natsStatus s = natsConnection_RequestString(&answer, nc, reply, "+ACK", wait_ms);
  natsMsg_Destroy(answer);
  return s;
}

std::string NewMemberId(uint64_t bus_id) {
  static std::atomic<uint64_t> n{0};
  char host[64] = {0};
  ::gethostname(host, sizeof(host) - 1);
  return Sanitize(std::string(host) + "-" + std::to_string(::getpid()) + "-" +
                  std::to_string(bus_id) + "-" + std::to_string(n++));
}

// A delivery, not yet acked.
struct Held {
  natsMsg* msg;
  Clock::time_point touched;  // received, or last InProgress
};

// A delivery received and not handed out yet, with its metadata.
struct Arrival {
  Held held;
  uint64_t seq;       // stream sequence
  uint64_t delivery;  // consumer sequence
  int64_t time_ns;
};

struct Part {
  TopicPartition tp;
  std::string stream;
  std::string durable;
  std::string subject;
  // This attachment of the durable consumer in the pull inbox (0: detached),
  // and the inbox position up to which deliveries predate it (they belong
  // to an earlier attachment, and are dropped).
  uint32_t target = 0;
  uint64_t stale_until = 0;
  // The consumer sequence of the last delivery taken (at attach: the
  // consumer's last), and whether deliveries after it never arrived (see Take).
  uint64_t last_delivery = 0;
  bool lost_deliveries = false;
  // After a failed reattach (the consumer has no leader yet): not before
  // this, and how many failed in a row.
  Clock::time_point reattach_after{};
  int reattach_failures = 0;
  bool paused = false;
  // Delivered while paused, not handed out yet (at most what was asked for).
  std::deque<Arrival> arrived;
  std::map<uint64_t, Held> held;  // handed out, not acked; by stream sequence
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
        inbox_(session) {
    session_.Pin();
  }
  ~NatsConsumer() override {
    if (!closed_) {
      StopKeeper();
      for (auto& [tp, part] : parts_) Drop(*part, /*nak=*/true);
      parts_.clear();
      ephemeral_.UnsubscribeAll();
      inbox_.Close();
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
    nc_ = session_.connection();
    // Ephemeral topics' partitions are this member's from now on; the
    // listener hears of it in the next Poll, where rebalance callbacks run.
    if (Status s = ephemeral_.Set(ephemeral, &ephemeral_added_, &ephemeral_removed_); !s.ok()) {
      return s;
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
    // Held while waiting on the inbox (at most kWaitSlice at a time): the
    // keeper only tries the lock, and Commit and Pause come from this thread.
    std::unique_lock<std::mutex> state(mu_);
    for (;;) {
      if (wakeup_.exchange(false)) break;
      // Each partition read hands over what arrived while it was paused and
      // keeps a pull request open.
      bool reading = false;
      if (session_.connected()) {
        const auto now = Clock::now();
        for (auto& [tp, part] : parts_) {
          if (part->paused) continue;
          HandArrived(*part, out, max);
          if (Status s = Ask(*part, now); !s.ok()) return s;
          reading = reading || part->target != 0;
        }
      }
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      // No stored partition to read: wait on the ephemeral topics' messages,
      // a slice at a time (so a wakeup is seen).
      if (!reading && !ephemeral_.empty() && session_.connected()) {
        if (left.count() <= 0) break;
        state.unlock();
        ephemeral_.Take(out, max, std::min(left, kWaitSlice), spare_);
        state.lock();
        if (!out.empty()) break;
        continue;
      }
      // Nothing to read (no partition, all paused or reattaching, or
      // disconnected: a request would only wait for the reconnect).
      if (!reading) {
        state.unlock();
        std::unique_lock<std::mutex> lock(wake_mu_);
        wake_cv_.wait_until(lock, deadline, [&] { return wakeup_.load(); });
        wakeup_.store(false);
        break;
      }
      // What has arrived, from every partition; then, if nothing had, the
      // first of whatever comes next, a slice at a time.
      Receive(out, max, std::chrono::milliseconds(0));
      if (out.empty() && left.count() > 0) Receive(out, max, std::min(left, kWaitSlice));
      ephemeral_.Take(out, max, std::chrono::milliseconds(0), spare_);
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
      const auto end = held.upper_bound(static_cast<uint64_t>(std::max<int64_t>(0, o.next_offset)));
      for (auto h = held.begin(); h != end; h = held.erase(h)) {
        // The acks go out in order on one connection, so the server's
        // answer to the last one covers them all: only that one is waited
        // for, and no longer than wait_until.
        const bool last = std::next(h) == end;
        const int64_t wait_ms = wait_until ? Millis(*wait_until - Clock::now()) : 0;
        natsStatus s = NATS_OK;
        if (last && wait_ms > 0) {
          s = AcknowledgeSync(nc_, h->second.msg, wait_ms);
        } else {
          s = Acknowledge(nc_, h->second.msg, "+ACK");
          if (last && wait_until && s == NATS_OK) s = NATS_TIMEOUT;  // sent, not confirmed
        }
        natsMsg_Destroy(h->second.msg);
        if (s != NATS_OK && result.ok()) result = NatsError("ack " + ToString(o.tp), s);
      }
    }
    return result;
  }

  std::vector<PartitionLag> Lag() override {
    std::lock_guard<std::mutex> state(mu_);
    std::vector<PartitionLag> lags;
    for (auto& [tp, part] : parts_) {
      jsConsumerInfo* ci = nullptr;
      if (js_GetConsumerInfo(&ci, session_.js(), part->stream.c_str(), part->durable.c_str(),
                             nullptr, nullptr) != NATS_OK) {
        continue;
      }
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
    inbox_.Close();
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
    }
    std::lock_guard<std::mutex> state(mu_);
    last_maintain_ = now;
    KeepAlive(now);
    return result;
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
    // A failed keep-alive means a redelivery at worst.
    auto keep = [&](Held& h) {
      if (now - h.touched < keep_alive) return;
      (void)Acknowledge(nc_, h.msg, "+WPI");
      h.touched = now;
    };
    for (auto& [tp, part] : parts_) {
      for (auto& [seq, h] : part->held) keep(h);
      for (Arrival& a : part->arrived) keep(a.held);
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

  // Ensures the partition's durable consumer (EnsureDurable) and attaches
  // it to the pull inbox. `api` (may be null: the context's 5 s) bounds each JetStream API
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
    uint64_t delivered = 0;
    if (Status s = EnsureDurable(part, cc, delivered, api); !s.ok()) return s;
    if (Status s = inbox_.Open(); !s.ok()) return s;
    // A consumer recreated above was deleted first: what it delivered before
    // that is already queued in the inbox, ahead of its answer.
    part.stale_until = inbox_.Mark();
    part.target = inbox_.NewTarget();
    // From the first delivery on, a gap means deliveries went elsewhere
    // (see Take). A request of a member that gave the partition up can still
    // reach the server late (sent from cnats's reconnect buffer) and take
    // messages to an inbox that drops them.
    part.last_delivery = delivered;
    by_target_[part.target] = &part;
    by_durable_[part.durable] = &part;
    return Status();
  }

  // Ends the partition's attachment: answers to its requests that still
  // come are dropped (unacked: redelivered). REQUIRES: mu_.
  void Detach(Part& part) {
    if (part.target == 0) return;
    inbox_.Forget(part.target);
    by_target_.erase(part.target);
    by_durable_.erase(part.durable);
    part.target = 0;
  }

  // Deliveries lost on the way (a fetch's answer, when the server leading
  // the consumer died): the server redelivers them only after AckWait, and
  // would meanwhile deliver what comes after them. So the consumer is
  // recreated at its ack floor, as for an orphaned one (EnsureDurable), and
  // attached afresh: answers to the old attachment's requests that still
  // come late are dropped, and so is what arrived for it and was not handed
  // out (the new consumer delivers it again). What we hold stays held; its
  // redelivery replaces the old delivery (Take) and is acked in its place.
  // Keeps trying on the next Ask until it succeeds.
  //
  // This runs on the polling thread, which the member's other partitions
  // share: while the consumer has no leader (an election, seconds), each
  // request waits at most kReattachWaitMs and failed attempts back off, so
  // the other partitions keep flowing.
  Status Reattach(Part& part) {
    Detach(part);
    for (Arrival& a : part.arrived) natsMsg_Destroy(a.held.msg);
    part.arrived.clear();
    jsOptions api;
    jsOptions_Init(&api);
    api.Wait = kReattachWaitMs;
    if (Status s = Attach(part, &api); !s.ok()) {
      const int doublings = std::min(part.reattach_failures++, 3);
      part.reattach_after = Clock::now() + std::chrono::milliseconds(250 << doublings);
      return s;
    }
    part.lost_deliveries = false;
    part.reattach_failures = 0;
    return Status();
  }

  // Whether the partition can be read from now (not waiting to reattach).
  static bool Fetchable(const Part& part, Clock::time_point now) {
    return part.target != 0 || now >= part.reattach_after;
  }

  // Creates the partition's durable consumer, or takes over an existing one.
  //
  // A consumer with messages delivered and not acked, or pull requests
  // waiting, was being read by a member that is gone (it died, gave the
  // partition up, or its lease lapsed), or by this one before a reattach. JetStream would
  // redeliver those only after AckWait, while a fetch now returns the
  // messages after them: a key's later versions would overtake its earlier
  // ones. So such a consumer is recreated to start right after its ack floor
  // (the committed frontier): everything unacknowledged is delivered again,
  // in log order. What the old owner handled but had not committed comes
  // again (at-least-once).
  //
  // Sets `delivered` to the consumer sequence of its last delivery (0 for a
  // consumer created here): the next delivery must be the one after it.
  Status EnsureDurable(const Part& part, jsConsumerConfig& cc, uint64_t& delivered,
                       jsOptions* api = nullptr) {
    delivered = 0;
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
    // Pull requests still waiting at the server are another attachment's
    // (a member that gave the partition up, or ours before a reattach): they
    // would take the next messages to an inbox that drops them. Deleting the
    // consumer ends them.
    const bool orphaned = ci->NumAckPending > 0 || ci->NumWaiting > 0;
    const uint64_t floor = ci->AckFloor.Stream;
    if (!orphaned) delivered = ci->Delivered.Consumer;
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
    return MaxAckPending(session_.config()) - static_cast<int64_t>(part.held.size()) -
           static_cast<int64_t>(part.arrived.size());
  }

  // REQUIRES: mu_.
  void Remove(const TopicPartition& tp, bool nak) {
    auto it = parts_.find(tp);
    if (it == parts_.end()) return;
    Drop(*it->second, nak);
    parts_.erase(it);
  }

  // Hands back what is held or arrived (Nak: redelivered at once, to whoever
  // owns the partition next; not for a lost partition, whose durable consumer
  // may be another member's by now) and detaches; the durable stays.
  void Drop(Part& part, bool nak) {
    auto hand_back = [&](Held& h) {
      if (nak) (void)Acknowledge(nc_, h.msg, "-NAK");
      natsMsg_Destroy(h.msg);
    };
    for (auto& [seq, h] : part.held) hand_back(h);
    for (Arrival& a : part.arrived) hand_back(a.held);
    part.held.clear();
    part.arrived.clear();
    Detach(part);
  }

  // Keeps a pull request open for the partition (reattaching first after
  // lost deliveries), for as many messages as MaxAckPending leaves room
  // for. A new request goes out when none is open, or when room for a
  // quarter of MaxAckPending has been made since. REQUIRES: mu_.
  Status Ask(Part& part, Clock::time_point now) {
    if (part.lost_deliveries || part.target == 0) {
      if (!Fetchable(part, now)) return Status();
      if (Status s = Reattach(part); !s.ok()) return Status();  // again after a backoff
    }
    const int64_t open = inbox_.Outstanding(part.target, kRenewBefore);
    const int64_t want = Room(part) - open;
    const int64_t top_up = std::max<int64_t>(1, MaxAckPending(session_.config()) / 4);
    if (want <= 0 || (open > 0 && want < top_up)) return Status();
    Status s = inbox_.Request(part.target, part.stream, part.durable, want, kPullExpiry);
    // A request that could not go out is asked again at the next Poll;
    // only a closed connection ends the consumer.
    if (!s.ok() && natsConnection_IsClosed(nc_)) return s;
    return Status();
  }

  // Takes the inbox's answers, waiting up to `wait` for the first, until
  // `out` holds max records. REQUIRES: mu_.
  void Receive(std::vector<RecordPtr>& out, size_t max, std::chrono::milliseconds wait) {
    PullInbox::Answer answer;
    while (out.size() < max && inbox_.Next(answer, wait)) {
      wait = std::chrono::milliseconds(0);
      if (answer.gone != 0) {
        auto it = by_target_.find(answer.gone);
        if (it != by_target_.end()) it->second->lost_deliveries = true;  // recreated by Ask
        continue;
      }
      jsMsgMetaData* meta = nullptr;
      if (natsMsg_GetMetaData(&meta, answer.msg) != NATS_OK) {
        natsMsg_Destroy(answer.msg);
        continue;
      }
      auto it = by_durable_.find(std::string_view(meta->Consumer));
      Part* part = it == by_durable_.end() ? nullptr : it->second;
      const Arrival arrival{Held{answer.msg, Clock::now()}, meta->Sequence.Stream,
                            meta->Sequence.Consumer, meta->Timestamp};
      const bool ours = part != nullptr && part->stream == meta->Stream;
      jsMsgMetaData_Destroy(meta);
      // For an attachment that is gone, or from before this one: unacked,
      // so redelivered (to this attachment, or the partition's next owner).
      if (!ours || answer.position <= part->stale_until || part->lost_deliveries) {
        natsMsg_Destroy(answer.msg);
        continue;
      }
      inbox_.Delivered(part->target);
      // In delivery order: behind what waits from a pause.
      if (part->paused || !part->arrived.empty()) {
        part->arrived.push_back(arrival);
      } else {
        Take(*part, arrival, out);
      }
    }
  }

  // Hands out what arrived while the partition was paused. REQUIRES: mu_.
  void HandArrived(Part& part, std::vector<RecordPtr>& out, size_t max) {
    while (!part.arrived.empty() && out.size() < max && !part.lost_deliveries) {
      const Arrival arrival = part.arrived.front();
      part.arrived.pop_front();
      Take(part, arrival, out);
    }
  }

  // Hands out one delivery: held until acked, as a record in `out`.
  // REQUIRES: mu_.
  void Take(Part& part, const Arrival& a, std::vector<RecordPtr>& out) {
    if (part.lost_deliveries) {
      natsMsg_Destroy(a.held.msg);
      return;
    }
    if (a.delivery > part.last_delivery + 1) {
      // Deliveries in between never came (lost on the way, or taken by
      // another member's request): this one and what follows are left
      // unacked (redelivered), and the next Ask reattaches, recreating the
      // consumer at its ack floor.
      part.lost_deliveries = true;
      natsMsg_Destroy(a.held.msg);
      return;
    }
    part.last_delivery = std::max(part.last_delivery, a.delivery);
    auto [it, fresh] = part.held.try_emplace(a.seq, a.held);
    if (!fresh) {
      // Redelivered while we still hold it: keep the newer delivery, hand out nothing new.
      natsMsg_Destroy(it->second.msg);
      it->second = a.held;
      return;
    }
    out.push_back(ToRecord(spare_.Take(), part.tp, a.held.msg, a.seq, a.time_ns));
  }

  NatsSession& session_;
  NatsStreams& streams_;
  const std::string group_;
  std::vector<std::string> topics_;  // stored (JetStream) topics
  EphemeralSubscriptions ephemeral_;
  // Ephemeral partitions gained or lost, for the listener at the next Poll.
  std::vector<TopicPartition> ephemeral_added_;
  std::vector<TopicPartition> ephemeral_removed_;
  RebalanceListener* listener_ = nullptr;
  size_t rr_ = 0;
  SpareRecords spare_;  // refilled by Take (polling thread)
  Clock::time_point next_step_{};
  bool closed_ = false;
  // Shared by the polling thread and the keeper.
  std::mutex mu_;
  std::unique_ptr<Leases> leases_;  // set by the first Subscribe, before the keeper starts
  std::map<TopicPartition, std::unique_ptr<Part>> parts_;
  PullInbox inbox_;                                // the partitions' pull requests
  natsConnection* nc_ = nullptr;                   // the session's, from the first Subscribe (acks)
  std::unordered_map<uint32_t, Part*> by_target_;  // attached partitions
  std::map<std::string, Part*, std::less<>> by_durable_;  // the same, by consumer
  Clock::time_point last_refresh_{};                      // leases last refreshed
  Clock::time_point last_maintain_{};                     // the polling thread's last Maintain
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
