#include "transport/nats/nats_consumer.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>

#include "transport/nats/nats_common.h"
#include "transport/nats/nats_leases.h"

namespace evbus::transport::nats {
namespace {

// A blocking fetch waits at most this long, so a Wakeup (or records on
// another partition) is seen within it.
constexpr int64_t kFetchSliceMs = 20;

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
  natsSubscription* sub = nullptr;
  bool paused = false;
  std::map<uint64_t, Held> held;  // by stream sequence
};

RecordPtr ToRecord(const TopicPartition& tp, natsMsg* msg, uint64_t seq, int64_t time_ns) {
  auto r = std::make_shared<Record>();
  r->topic = tp.topic;
  r->partition = tp.partition;
  r->offset = static_cast<int64_t>(seq) - 1;
  r->timestamp = std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::nanoseconds(time_ns)));
  if (const char* data = natsMsg_GetData(msg)) {
    r->payload.assign(data, static_cast<size_t>(natsMsg_GetDataLength(msg)));
  }
  const char** keys = nullptr;
  int nkeys = 0;
  if (natsMsgHeader_Keys(msg, &keys, &nkeys) == NATS_OK) {
    for (int i = 0; i < nkeys; ++i) {
      const std::string_view key = keys[i];
      const char** values = nullptr;
      int nvalues = 0;
      if (natsMsgHeader_Values(msg, keys[i], &values, &nvalues) != NATS_OK) continue;
      for (int j = 0; j < nvalues; ++j) {
        if (key == kKeyHeader) {
          r->key = values[j];
        } else if (key != "Nats-Msg-Id") {
          r->headers.push_back({std::string(key), values[j]});
        }
      }
      free(static_cast<void*>(values));
    }
    free(static_cast<void*>(keys));
  }
  return r;
}

class NatsConsumer final : public Consumer {
 public:
  NatsConsumer(NatsSession& session, NatsStreams& streams, std::string group)
      : session_(session), streams_(streams), group_(std::move(group)) {
    session_.Pin();
  }
  ~NatsConsumer() override {
    if (!closed_) {
      for (auto& [tp, part] : parts_) Drop(*part);
      parts_.clear();
      session_.Unpin();
    }
  }

  Status Subscribe(const std::vector<std::string>& topics, RebalanceListener* listener) override {
    if (closed_) return Closed("consumer is closed");
    for (const std::string& t : topics) {
      if (Status s = streams_.Ensure(t); !s.ok()) return s;
    }
    if (Status s = session_.Connect(); !s.ok()) return s;
    if (!leases_) {
      leases_ = std::make_unique<Leases>(session_, group_, NewMemberId(session_.bus_id()));
    }
    topics_ = topics;
    listener_ = listener;
    next_step_ = Clock::time_point{};  // claim at the next Poll
    return Status();
  }

  Status Poll(std::vector<RecordPtr>& out, size_t max, std::chrono::milliseconds timeout) override {
    if (!leases_) return FailedPrecondition("poll before subscribe");
    if (closed_) return Closed("consumer is closed");
    const auto deadline = Clock::now() + timeout;
    Status status = Maintain();
    for (;;) {
      if (wakeup_.exchange(false)) break;
      std::vector<Part*> ready;
      for (auto& [tp, part] : parts_) {
        if (!part->paused) ready.push_back(part.get());
      }
      if (ready.empty()) {
        std::unique_lock<std::mutex> lock(wake_mu_);
        wake_cv_.wait_until(lock, deadline, [&] { return wakeup_.load(); });
        wakeup_.store(false);
        break;
      }
      const size_t start = rr_++;
      for (size_t i = 0; i < ready.size() && out.size() < max; ++i) {
        if (Status s = Fetch(*ready[(start + i) % ready.size()], out, max, 0); !s.ok()) return s;
      }
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (!out.empty() || left <= 0) break;
      Part& p = *ready[start % ready.size()];
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
  }

  void Pause(const TopicPartition& tp) override {
    if (auto it = parts_.find(tp); it != parts_.end()) it->second->paused = true;
  }
  void Resume(const TopicPartition& tp) override {
    if (auto it = parts_.find(tp); it != parts_.end()) it->second->paused = false;
  }

  Status Commit(const std::vector<CommitOffset>& offsets, bool synchronous) override {
    Status result;
    for (const CommitOffset& o : offsets) {
      auto it = parts_.find(o.tp);
      if (it == parts_.end()) {
        result = FailedPrecondition("commit: partition " + ToString(o.tp) +
                                    " is not assigned to this member");
        continue;
      }
      // Offsets below next_offset are settled: sequences up to next_offset.
      std::map<uint64_t, Held>& held = it->second->held;
      const auto end = held.upper_bound(static_cast<uint64_t>(std::max<int64_t>(0, o.next_offset)));
      for (auto h = held.begin(); h != end; h = held.erase(h)) {
        const bool last = std::next(h) == end;
        natsStatus s = synchronous && last ? natsMsg_AckSync(h->second.msg, nullptr, nullptr)
                                           : natsMsg_Ack(h->second.msg, nullptr);
        natsMsg_Destroy(h->second.msg);
        if (s != NATS_OK && result.ok()) result = NatsError("ack " + ToString(o.tp), s);
      }
    }
    return result;
  }

  std::vector<PartitionLag> Lag() override {
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

  Status Close(Clock::time_point) override {
    if (closed_) return Status();
    closed_ = true;
    std::vector<TopicPartition> all;
    for (auto& [tp, part] : parts_) all.push_back(tp);
    if (!all.empty() && listener_) listener_->OnRevoked(all, /*lost=*/false);
    for (auto& [tp, part] : parts_) Drop(*part);
    parts_.clear();
    if (leases_) leases_->Leave();
    session_.Unpin();
    return Status();
  }

 private:
  // Lease step (about every kLeaseRefresh) and keep-alive of held messages.
  Status Maintain() {
    const auto now = Clock::now();
    Status result;
    if (now >= next_step_) {
      next_step_ = now + kLeaseRefresh;
      Result<Leases::Plan> plan = leases_->Step(topics_, session_.config().nats.partitions);
      if (!plan.ok()) {
        result = plan.status();
      } else {
        if (!plan->lost.empty()) {
          if (listener_) listener_->OnRevoked(plan->lost, /*lost=*/true);
          for (const TopicPartition& tp : plan->lost) Remove(tp);
        }
        if (!plan->give_up.empty()) {
          if (listener_) listener_->OnRevoked(plan->give_up, /*lost=*/false);
          for (const TopicPartition& tp : plan->give_up) {
            Remove(tp);
            leases_->Release(tp);
          }
        }
        std::vector<TopicPartition> assigned;
        for (const TopicPartition& tp : plan->gained) {
          if (Status s = Add(tp); !s.ok()) {
            leases_->Release(tp);
            result = s;
          } else {
            assigned.push_back(tp);
          }
        }
        if (!assigned.empty() && listener_) listener_->OnAssigned(assigned);
      }
    }
    const auto keep_alive = session_.config().nats.ack_wait / 3;
    for (auto& [tp, part] : parts_) {
      for (auto& [seq, h] : part->held) {
        if (now - h.touched < keep_alive) continue;
        natsStatus s = natsMsg_InProgress(h.msg, nullptr);
        (void)s;  // a failed keep-alive means a redelivery at worst
        h.touched = now;
      }
    }
    return result;
  }

  Status Add(const TopicPartition& tp) {
    const Config& config = session_.config();
    auto part = std::make_unique<Part>();
    part->tp = tp;
    part->stream = StreamName(config.nats, tp.topic, tp.partition);
    part->durable = DurableName(group_, tp.topic, tp.partition);
    const std::string subject = Subject(tp.topic, tp.partition);
    jsConsumerConfig cc;
    jsConsumerConfig_Init(&cc);
    cc.Durable = part->durable.c_str();
    cc.FilterSubject = subject.c_str();
    cc.AckPolicy = js_AckExplicit;
    cc.MaxAckPending = config.subscriber.window;
    cc.AckWait = Nanos(config.nats.ack_wait);
    if (config.nats.max_deliver > 0) cc.MaxDeliver = config.nats.max_deliver;
    cc.DeliverPolicy = config.subscriber.auto_offset_reset == OffsetReset::kEarliest
                           ? js_DeliverAll
                           : js_DeliverNew;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s =
        js_AddConsumer(nullptr, session_.js(), part->stream.c_str(), &cc, nullptr, &jerr);
    if (s != NATS_OK) {
      // It exists with other settings (window, ack_wait): bring them up to date.
      s = js_UpdateConsumer(nullptr, session_.js(), part->stream.c_str(), &cc, nullptr, &jerr);
    }
    if (s != NATS_OK)
      return NatsError("consumer " + part->durable + " on " + part->stream, s, jerr);
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = part->stream.c_str();
    so.Consumer = part->durable.c_str();
    session_.Attributed([&] {
      s = js_PullSubscribe(&part->sub, session_.js(), subject.c_str(), part->durable.c_str(),
                           nullptr, &so, &jerr);
    });
    if (s != NATS_OK) return NatsError("pull subscribe " + part->durable, s, jerr);
    parts_[tp] = std::move(part);
    return Status();
  }

  void Remove(const TopicPartition& tp) {
    auto it = parts_.find(tp);
    if (it == parts_.end()) return;
    Drop(*it->second);
    parts_.erase(it);
  }

  // Hands back what is held (Nak: redelivered at once, to whoever owns the
  // partition next) and ends the subscription; the durable consumer stays.
  void Drop(Part& part) {
    for (auto& [seq, h] : part.held) {
      natsStatus s = natsMsg_Nak(h.msg, nullptr);
      (void)s;
      natsMsg_Destroy(h.msg);
    }
    part.held.clear();
    natsSubscription_Destroy(part.sub);
    part.sub = nullptr;
  }

  // Fetches up to max - out.size() records; wait_ms 0 = only what is there.
  Status Fetch(Part& part, std::vector<RecordPtr>& out, size_t max, int64_t wait_ms) {
    if (out.size() >= max) return Status();
    jsFetchRequest fr;
    jsFetchRequest_Init(&fr);
    fr.Batch = static_cast<int>(max - out.size());
    if (wait_ms == 0) {
      fr.NoWait = true;
      fr.Expires = kFetchSliceMs * 1'000'000;
    } else {
      fr.Expires = wait_ms * 1'000'000;
    }
    natsMsgList list{nullptr, 0};
    natsStatus s = natsSubscription_FetchRequest(&list, part.sub, &fr);
    if (s != NATS_OK) {
      natsMsgList_Destroy(&list);
      if (s == NATS_CONNECTION_CLOSED || s == NATS_INVALID_SUBSCRIPTION) {
        return NatsError("fetch " + ToString(part.tp), s);
      }
      return Status();  // nothing there (timeout, no messages, max ack pending)
    }
    const auto now = Clock::now();
    for (int i = 0; i < list.Count; ++i) {
      natsMsg* msg = list.Msgs[i];
      jsMsgMetaData* meta = nullptr;
      if (natsMsg_GetMetaData(&meta, msg) != NATS_OK) continue;  // destroyed with the list
      const uint64_t seq = meta->Sequence.Stream;
      const int64_t ts = meta->Timestamp;
      jsMsgMetaData_Destroy(meta);
      list.Msgs[i] = nullptr;
      auto [it, fresh] = part.held.try_emplace(seq, Held{msg, now});
      if (!fresh) {
        // Redelivered while we still hold it: keep the newer delivery, hand out nothing new.
        natsMsg_Destroy(it->second.msg);
        it->second = Held{msg, now};
        continue;
      }
      out.push_back(ToRecord(part.tp, msg, seq, ts));
    }
    natsMsgList_Destroy(&list);
    return Status();
  }

  NatsSession& session_;
  NatsStreams& streams_;
  const std::string group_;
  std::unique_ptr<Leases> leases_;
  std::vector<std::string> topics_;
  RebalanceListener* listener_ = nullptr;
  std::map<TopicPartition, std::unique_ptr<Part>> parts_;
  size_t rr_ = 0;
  Clock::time_point next_step_{};
  bool closed_ = false;
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
