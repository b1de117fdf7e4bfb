#include "transport/nats/nats_topic_tools.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include "transport/nats/nats_common.h"

namespace evbus::transport::nats {
namespace {

// Messages asked for per fetch; also the consumer's MaxAckPending bound.
constexpr int kBatch = 256;
// A fetch that gets nothing in this long ends the partition's read early
// (its messages were removed meanwhile, or the server stopped answering).
constexpr int64_t kFetchWaitMs = 5'000;
// Should the process die before deleting its consumer, the server drops it
// after this long without a fetch.
constexpr auto kInactiveThreshold = std::chrono::minutes(1);

// The messages of `subject` in `stream` now and the stream's last sequence.
struct SubjectState {
  uint64_t msgs = 0;
  uint64_t last_seq = 0;
};

Result<SubjectState> StateOf(jsCtx* js, const std::string& topic, const std::string& stream,
                             const std::string& subject) {
  jsOptions o;
  jsOptions_Init(&o);
  o.Stream.Info.SubjectsFilter = subject.c_str();
  jsStreamInfo* info = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&info, js, stream.c_str(), &o, &jerr);
  if (s != NATS_OK) {
    Status st = NatsError("topic " + topic + ": stream " + stream, s, jerr);
    if (st.code() == ErrorCode::kNotFound) {
      return NotFound("topic " + topic + " does not exist (no JetStream stream " + stream + ")");
    }
    return st;
  }
  SubjectState out;
  out.last_seq = info->State.LastSeq;
  if (const jsStreamStateSubjects* subjects = info->State.Subjects) {
    for (int i = 0; i < subjects->Count; ++i) {
      if (subject == subjects->List[i].Subject) out.msgs = subjects->List[i].Msgs;
    }
  }
  jsStreamInfo_Destroy(info);
  return out;
}

// One partition's ephemeral reader: the consumer and a pull subscription
// bound to it, both gone when this is destroyed.
class PartitionReader {
 public:
  PartitionReader(NatsSession& session, std::string topic, int32_t partition)
      : session_(session),
        topic_(std::move(topic)),
        partition_(partition),
        stream_(StreamName(session.config().nats, topic_, partition)),
        subject_(Subject(session.config().nats, topic_, partition)) {}
  ~PartitionReader() {
    session_.Retire(sub_);
    if (!consumer_.empty()) {
      // Best effort: should it fail, the server drops it after kInactiveThreshold.
      (void)js_DeleteConsumer(session_.js(), stream_.c_str(), consumer_.c_str(), nullptr, nullptr);
    }
  }
  PartitionReader(const PartitionReader&) = delete;
  PartitionReader& operator=(const PartitionReader&) = delete;

  // Creates the consumer; afterwards pending() is what the read covers.
  Status Open() {
    Result<SubjectState> state = StateOf(session_.js(), topic_, stream_, subject_);
    if (!state.ok()) return state.status();
    last_seq_ = state->last_seq;
    if (state->msgs == 0) return Status();  // nothing to read: no consumer needed
    const std::string description = "evbus: reads topic " + topic_ + " once (evbus dlq)";
    jsConsumerConfig cc;
    jsConsumerConfig_Init(&cc);
    cc.Description = description.c_str();
    cc.FilterSubject = subject_.c_str();
    cc.DeliverPolicy = js_DeliverAll;
    // Pull consumers must acknowledge (NATS 2.9); AckAll lets one ack per
    // batch cover it, so nothing is redelivered while a slow visitor works.
    cc.AckPolicy = js_AckAll;
    cc.MaxAckPending = 4 * kBatch;
    cc.InactiveThreshold = std::chrono::nanoseconds(kInactiveThreshold).count();
    jsConsumerInfo* ci = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_AddConsumer(&ci, session_.js(), stream_.c_str(), &cc, nullptr, &jerr);
    if (s != NATS_OK) return NatsError("topic " + topic_ + ": reader on " + stream_, s, jerr);
    consumer_ = ci->Name;
    pending_ = static_cast<int64_t>(ci->NumPending);
    jsConsumerInfo_Destroy(ci);
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = stream_.c_str();
    so.Consumer = consumer_.c_str();
    session_.Attributed([&] {
      s = js_PullSubscribe(&sub_, session_.js(), subject_.c_str(), nullptr, nullptr, &so, &jerr);
    });
    if (s != NATS_OK) {
      sub_ = nullptr;
      return NatsError("topic " + topic_ + ": subscribe to reader " + consumer_, s, jerr);
    }
    return Status();
  }

  int64_t pending() const { return pending_; }

  // Hands each message up to the last sequence of Open's time to `visit`.
  Status Read(int64_t total, const TopicVisitor& visit, bool& stopped) {
    Record record;
    int64_t may_arrive = 0;
    while (pending_ > 0 && !stopped) {
      jsFetchRequest fr;
      jsFetchRequest_Init(&fr);
      fr.Batch = static_cast<int>(std::min<int64_t>(pending_, kBatch));
      fr.Expires = kFetchWaitMs * 1'000'000;
      natsMsgList list{nullptr, 0};
      natsStatus s = GuardedFetch(&list, sub_, &fr, may_arrive, 4 * kBatch);
      if (s == NATS_TIMEOUT) {
        // Nothing came: either what is left was removed meanwhile (retention,
        // a purge), or the server stalls; a partial read must not pass for whole.
        jsConsumerInfo* ci = nullptr;
        const bool known = natsSubscription_GetConsumerInfo(&ci, sub_, nullptr, nullptr) == NATS_OK;
        const uint64_t left = known ? ci->NumPending + static_cast<uint64_t>(ci->NumAckPending) : 1;
        if (ci != nullptr) jsConsumerInfo_Destroy(ci);
        if (known && left == 0) break;
        return Status(ErrorCode::kTimeout,
                      "topic " + topic_ + ": read " + stream_ + " stalled with " +
                          (known ? std::to_string(left) : std::string("some")) +
                          " messages still to read");
      }
      if (s != NATS_OK) {
        natsMsgList_Destroy(&list);
        return NatsError("topic " + topic_ + ": read " + stream_, s);
      }
      natsMsg* last = nullptr;
      for (int i = 0; i < list.Count && !stopped && pending_ > 0; ++i) {
        natsMsg* msg = list.Msgs[i];
        jsMsgMetaData* meta = nullptr;
        if (natsMsg_GetMetaData(&meta, msg) != NATS_OK) continue;
        const uint64_t seq = meta->Sequence.Stream;
        const int64_t time_ns = meta->Timestamp;
        jsMsgMetaData_Destroy(meta);
        last = msg;
        if (seq > last_seq_) {  // appended after the start
          pending_ = 0;
          break;
        }
        --pending_;
        FillRecord(msg, seq, time_ns, record);
        if (!visit(record, total)) stopped = true;
      }
      if (last != nullptr) (void)natsMsg_Ack(last, nullptr);  // AckAll: the batch
      natsMsgList_Destroy(&list);
    }
    return Status();
  }

 private:
  void FillRecord(natsMsg* msg, uint64_t seq, int64_t time_ns, Record& r) const {
    r.topic = topic_;
    r.partition = partition_;
    r.offset = static_cast<int64_t>(seq) - 1;  // as the transport's consumer numbers them
    r.timestamp = std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(
            std::chrono::nanoseconds(time_ns)));
    const char* data = natsMsg_GetData(msg);
    r.payload.assign(data != nullptr ? data : "",
                     data != nullptr ? static_cast<size_t>(natsMsg_GetDataLength(msg)) : 0);
    FillKeyAndHeaders(msg, r);
  }

  NatsSession& session_;
  const std::string topic_;
  const int32_t partition_;
  const std::string stream_;
  const std::string subject_;
  std::string consumer_;  // the server-named ephemeral, empty until made
  natsSubscription* sub_ = nullptr;
  uint64_t last_seq_ = 0;
  int64_t pending_ = 0;
};

}  // namespace

Status ReadWholeTopic(NatsSession& session, const std::string& topic, const TopicVisitor& visit) {
  if (Status s = session.Connect(); !s.ok()) return s;
  // Every partition's reader first, so the total is known before the first
  // record; each is gone again when this returns.
  std::vector<std::unique_ptr<PartitionReader>> readers;
  int64_t total = 0;
  for (int32_t p = 0; p < Partitions(session.config().nats); ++p) {
    readers.push_back(std::make_unique<PartitionReader>(session, topic, p));
    if (Status s = readers.back()->Open(); !s.ok()) return s;
    total += readers.back()->pending();
  }
  bool stopped = false;
  for (auto& reader : readers) {
    if (Status s = reader->Read(total, visit, stopped); !s.ok()) return s;
    reader.reset();  // its consumer goes as soon as it is read
    if (stopped) break;
  }
  return Status();
}

Result<int64_t> PurgeWholeTopic(NatsSession& session, const std::string& topic) {
  if (Status s = session.Connect(); !s.ok()) return s;
  const NatsConfig& nc = session.config().nats;
  int64_t removed = 0;
  for (int32_t p = 0; p < Partitions(nc); ++p) {
    const std::string stream = StreamName(nc, topic, p);
    const std::string subject = Subject(nc, topic, p);
    Result<SubjectState> before = StateOf(session.js(), topic, stream, subject);
    if (!before.ok()) return before.status();
    if (before->msgs == 0) continue;
    jsOptions o;
    jsOptions_Init(&o);
    o.Stream.Purge.Subject = subject.c_str();
    o.Stream.Purge.Sequence = before->last_seq + 1;  // up to, not including: what is there now
    jsErrCode jerr = static_cast<jsErrCode>(0);
    if (natsStatus s = js_PurgeStream(session.js(), stream.c_str(), &o, &jerr); s != NATS_OK) {
      return NatsError("topic " + topic + ": purge " + subject + " in " + stream, s, jerr);
    }
    Result<SubjectState> after = StateOf(session.js(), topic, stream, subject);
    if (!after.ok()) return after.status();
    removed += static_cast<int64_t>(before->msgs) -
               static_cast<int64_t>(std::min(after->msgs, before->msgs));
  }
  return removed;
}

}  // namespace evbus::transport::nats
