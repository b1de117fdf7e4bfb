#include "transport/nats/nats_producer.h"

#include <atomic>
#include <condition_variable>
#include <optional>
#include <random>
#include <shared_mutex>
#include <unordered_map>

#include "transport/nats/nats_common.h"

namespace evbus::transport::nats {
namespace {

// How long a publish waits for its ack before it completes with Timeout.
constexpr int64_t kPubAckWaitMs = 30'000;

// Publishes waiting for their acks, by message. Shared with cnats's ack
// callback, so it outlives the producer until the connection is gone.
class PendingTable {
 public:
  struct Entry {
    DeliveryCallback done;
    int32_t partition;
  };
  void Add(natsMsg* m, Entry e) {
    std::lock_guard<std::mutex> lock(mu_);
    map_.emplace(m, std::move(e));
  }
  // The entry's callback runs before waiters on an empty table are released.
  std::optional<Entry> Take(natsMsg* m) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = map_.find(m);
    if (it == map_.end()) return std::nullopt;
    Entry e = std::move(it->second);
    map_.erase(it);
    ++completing_;
    return e;
  }
  void Completed() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      --completing_;
    }
    cv_.notify_all();
  }
  bool WaitEmpty(Clock::time_point deadline) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_until(lock, deadline, [&] { return map_.empty() && completing_ == 0; });
  }
  std::vector<Entry> TakeAll() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<Entry> all;
    for (auto& [m, e] : map_) all.push_back(std::move(e));
    map_.clear();
    return all;
  }
  size_t size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return map_.size();
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<natsMsg*, Entry> map_;
  int completing_ = 0;
};

void OnPubAck(jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* closure) {
  auto* table = static_cast<PendingTable*>(closure);
  std::optional<PendingTable::Entry> e = table->Take(msg);
  natsMsg_Destroy(msg);
  if (!e) return;  // completed by Close already
  if (pa != nullptr) {
    if (e->done) e->done(Status(), e->partition, static_cast<int64_t>(pa->Sequence) - 1);
    table->Completed();
    return;
  }
  Status s = Status(ErrorCode::kUnavailable, "publish failed");
  if (pae != nullptr) {
    s = NatsError("publish", pae->Err, pae->ErrCode);
    if (pae->ErrText != nullptr && *pae->ErrText != '\0') {
      s = Status(s.code(), s.message() + ": " + pae->ErrText);
    }
    if (pae->Err == NATS_NO_RESPONDERS) {
      // Not stored: safe to publish again. Not retried here, because a
      // later publish of the same key may already be stored by then: the
      // caller retries in order (the outbox relay does).
      s = Status(ErrorCode::kUnavailable,
                 "publish: no JetStream server took it: the stream has no leader (an election "
                 "after a server was lost) or does not exist (topic_strategy skip)");
    }
  }
  if (e->done) e->done(s, e->partition, -1);
  table->Completed();
}

// The JetStream de-duplication id of a record: its own Nats-Msg-Id header (a
// dead-letter replay's), else its event id. A dead letter's event id is
// qualified by where the event was read (X-Original-*): dead-lettered again
// after a replay (a new origin offset), within the duplicate window, it must
// be stored again, not taken for a duplicate and dropped.
std::string MessageId(const Headers& headers) {
  if (std::optional<std::string_view> own = FindHeader(headers, "Nats-Msg-Id")) {
    return std::string(*own);
  }
  std::string id(FindHeader(headers, kEventIdHeader).value_or(""));
  if (id.empty()) return id;
  if (std::optional<std::string_view> offset = FindHeader(headers, "X-Original-Offset")) {
    id += "@" + std::string(FindHeader(headers, "X-Original-Topic").value_or("")) + "/" +
          std::string(FindHeader(headers, "X-Original-Partition").value_or("")) + "/" +
          std::string(*offset);
  }
  return id;
}

class NatsProducer final : public Producer {
 public:
  NatsProducer(NatsSession& session, NatsStreams& streams)
      : session_(session),
        streams_(streams),
        table_(std::make_shared<PendingTable>()),
        partitions_(Partitions(session.config().nats)) {
    session_.Pin();
  }
  ~NatsProducer() override { Close(Clock::now()); }

  Status Produce(Record&& record, DeliveryCallback done) override {
    std::shared_lock<std::shared_mutex> use(use_mu_);  // Close waits for us
    if (closed_.load(std::memory_order_acquire)) return Closed("producer is closed");
    if (record.partition >= partitions_) {
      const NatsConfig& nc = session_.config().nats;
      return InvalidArgument("publish to " + record.topic + ": partition " +
                             std::to_string(record.partition) + " is out of range: " +
                             (nc.layout == NatsLayout::kJxt
                                  ? std::string("the jxt layout has one partition, 0")
                                  : "nats.partitions is " + std::to_string(partitions_) +
                                        " (partitions 0.." + std::to_string(partitions_ - 1) +
                                        ")"));
    }
    if (Status s = Start(); !s.ok()) return s;
    if (Status s = streams_.Ensure(record.topic); !s.ok()) return s;
    if (streams_.ephemeral(record.topic)) return PublishCore(record, done);
    const int32_t partition = record.partition >= 0 ? record.partition
                              : record.key.empty()  ? static_cast<int32_t>(Random() % partitions_)
                                                    : PartitionForKey(record.key, partitions_);
    const std::string subject = Subject(session_.config().nats, record.topic, partition);
    natsMsg* msg = nullptr;
    natsStatus s = natsMsg_Create(&msg, subject.c_str(), nullptr, record.payload.data(),
                                  static_cast<int>(record.payload.size()));
    for (const Header& h : record.headers) {
      if (s == NATS_OK) s = natsMsgHeader_Add(msg, h.key.c_str(), h.value.c_str());
    }
    if (s == NATS_OK && !record.key.empty())
      s = natsMsgHeader_Set(msg, kKeyHeader, record.key.c_str());
    if (s != NATS_OK) {
      natsMsg_Destroy(msg);
      return InvalidArgument(NatsError("publish to " + record.topic, s).message());
    }
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = kPubAckWaitMs;
    const std::string msg_id = MessageId(record.headers);
    if (!msg_id.empty()) po.MsgId = msg_id.c_str();
    natsMsg* raw = msg;
    table_->Add(raw, {std::move(done), partition});
    if (!first_published_.load(std::memory_order_acquire)) {
      // The first async publish starts cnats's ack subscription (a thread).
      session_.Attributed([&] { s = js_PublishMsgAsync(js_, &msg, &po); });
      first_published_.store(true, std::memory_order_release);
    } else {
      s = js_PublishMsgAsync(js_, &msg, &po);
    }
    if (s != NATS_OK) {
      if (table_->Take(raw)) table_->Completed();  // never called: not accepted
      natsMsg_Destroy(msg);                        // still ours when not accepted
      if (s == NATS_TIMEOUT) {
        return Status(ErrorCode::kQueueFull,
                      "nats: " + std::to_string(max_pending_) +
                          " publishes await their acks (publisher.max_in_flight)");
      }
      return NatsError("publish to " + record.topic, s);
    }
    return Status();
  }

  // Waits for the completions themselves, not just cnats's ack count: a
  // completion cnats has dequeued but not yet delivered must not be
  // overtaken by Close's "closed" completion.
  Status Flush(Clock::time_point deadline) override {
    if (table_->WaitEmpty(deadline)) return Status();
    return Status(ErrorCode::kTimeout,
                  std::to_string(table_->size()) + " publishes still await their acks");
  }

  void Close(Clock::time_point) override {
    if (closed_.exchange(true)) return;
    std::unique_lock<std::shared_mutex> use(use_mu_);  // no Produce is inside cnats now
    jsCtx* js = nullptr;
    {
      std::lock_guard<std::mutex> lock(start_mu_);
      js = std::exchange(js_, nullptr);
    }
    if (js != nullptr) {
      // cnats 3.4 keeps its pending-publish map only from the first async
      // publish on; asking a context that never published (its stream could
      // not be ensured) dereferences the missing map.
      natsMsgList unacked{nullptr, 0};
      if (first_published_.load(std::memory_order_acquire) &&
          js_PublishAsyncGetPendingList(&unacked, js) == NATS_OK) {
        natsMsgList_Destroy(&unacked);
      }
      jsCtx_Destroy(js);
    }
    // Whatever is left never got its ack: ours to complete, once.
    for (PendingTable::Entry& e : table_->TakeAll()) {
      if (e.done)
        e.done(Closed("producer closed before the publish was acknowledged"), e.partition, -1);
    }
    use.unlock();
    session_.Unpin();
  }

 private:
  // An ephemeral topic: Core NATS to the subject <topic>, no acknowledgement.
  // Complete once the message is in the connection's buffer: the server may
  // still lose it (at-most-once), and nothing stores it for later readers.
  Status PublishCore(const Record& record, const DeliveryCallback& done) {
    natsMsg* msg = nullptr;
    natsStatus s = natsMsg_Create(&msg, record.topic.c_str(), nullptr, record.payload.data(),
                                  static_cast<int>(record.payload.size()));
    for (const Header& h : record.headers) {
      if (s == NATS_OK) s = natsMsgHeader_Add(msg, h.key.c_str(), h.value.c_str());
    }
    if (s == NATS_OK && !record.key.empty()) {
      s = natsMsgHeader_Set(msg, kKeyHeader, record.key.c_str());
    }
    if (s == NATS_OK) s = natsConnection_PublishMsg(session_.connection(), msg);
    natsMsg_Destroy(msg);
    if (s != NATS_OK) return NatsError("publish to ephemeral topic " + record.topic, s);
    if (done) done(Status(), 0, -1);
    return Status();
  }

  // Connects and makes this producer's JetStream context (its ack handler).
  Status Start() {
    std::lock_guard<std::mutex> lock(start_mu_);
    if (js_ != nullptr) return Status();
    if (closed_.load()) return Closed("producer is closed");
    if (Status s = session_.Connect(); !s.ok()) return s;
    const PublisherConfig& pc = session_.config().publisher;
    max_pending_ = pc.max_in_flight;
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.PublishAsync.MaxPending = pc.max_in_flight;
    jo.PublishAsync.StallWait = std::max<int64_t>(1, Millis(pc.timeout));
    jo.PublishAsync.AckHandler = OnPubAck;
    jo.PublishAsync.AckHandlerClosure = table_.get();
    session_.KeepUntilClosed(table_);  // cnats may call OnPubAck until its threads are gone
    if (natsStatus s = natsConnection_JetStream(&js_, session_.connection(), &jo); s != NATS_OK) {
      js_ = nullptr;
      return NatsError("JetStream context", s);
    }
    return Status();
  }
  uint32_t Random() {
    std::lock_guard<std::mutex> lock(start_mu_);
    return rng_();
  }

  NatsSession& session_;
  NatsStreams& streams_;
  std::shared_ptr<PendingTable> table_;
  const int32_t partitions_;  // Partitions(nats)
  std::atomic<bool> closed_{false};
  std::shared_mutex use_mu_;  // shared: Produce, Flush; exclusive: Close
  std::atomic<bool> first_published_{false};
  std::mutex start_mu_;
  jsCtx* js_ = nullptr;  // set once by Start, cleared by Close
  int64_t max_pending_ = 0;
  std::minstd_rand rng_{std::random_device{}()};
};

}  // namespace

std::unique_ptr<Producer> NewNatsProducer(NatsSession& session, NatsStreams& streams) {
  return std::make_unique<NatsProducer>(session, streams);
}

}  // namespace evbus::transport::nats
