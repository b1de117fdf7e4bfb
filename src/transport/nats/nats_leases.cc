#include "transport/nats/nats_leases.h"

#include <set>

#include "transport/nats/nats_common.h"

namespace evbus::transport::nats {
namespace {

constexpr char kLeaseStream[] = "EVBUS_LEASES";
constexpr char kLeaseSubjects[] = "evbus.lease.>";

}  // namespace

Leases::Leases(NatsSession& session, const std::string& group, std::string member)
    : session_(session), base_("evbus.lease." + Sanitize(group)), member_(std::move(member)) {}

Status Leases::EnsureStream() {
  if (stream_ready_) return Status();
  const char* subjects[] = {kLeaseSubjects};
  jsStreamConfig sc;
  jsStreamConfig_Init(&sc);
  sc.Name = kLeaseStream;
  sc.Description = "evbus consumer-group partition leases";
  sc.Subjects = subjects;
  sc.SubjectsLen = 1;
  sc.Storage = js_MemoryStorage;
  sc.MaxMsgsPerSubject = 1;
  sc.MaxAge = Nanos(kLeaseTtl);
  sc.Duplicates = Nanos(kLeaseTtl);
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_AddStream(nullptr, session_.js(), &sc, nullptr, &jerr);
  if (s != NATS_OK && jerr != JSStreamNameExistErr) {
    return NatsError("create lease stream " + std::string(kLeaseStream), s, jerr);
  }
  stream_ready_ = true;
  return Status();
}

std::string Leases::LeaseSubject(const TopicPartition& tp) const {
  return base_ + ".l." + Sanitize(tp.topic) + "." + std::to_string(tp.partition);
}

Result<uint64_t> Leases::Write(const std::string& subject, uint64_t expect) {
  jsPubOptions po;
  jsPubOptions_Init(&po);
  if (expect == 0) {
    po.ExpectNoMessage = true;
  } else {
    po.ExpectLastSubjectSeq = expect;
  }
  jsPubAck* ack = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_Publish(&ack, session_.js(), subject.c_str(), member_.data(),
                            static_cast<int>(member_.size()), &po, &jerr);
  if (s != NATS_OK) {
    if (jerr == JSStreamWrongLastSequenceErr) return FailedPrecondition("held by another member");
    return NatsError("lease " + subject, s, jerr);
  }
  const uint64_t seq = ack->Sequence;
  jsPubAck_Destroy(ack);
  return seq;
}

void Leases::Purge(const std::string& subject) {
  jsOptions o;
  jsOptions_Init(&o);
  o.Stream.Purge.Subject = subject.c_str();
  natsStatus s = js_PurgeStream(session_.js(), kLeaseStream, &o, nullptr);
  (void)s;  // if it fails, the lease simply expires
}

Result<std::vector<TopicPartition>> Leases::Refresh() {
  if (Status s = EnsureStream(); !s.ok()) return s;
  std::vector<TopicPartition> lost;
  // Heartbeat: any sequence will do.
  bool recreated = false;
  {
    jsErrCode jerr = static_cast<jsErrCode>(0);
    const std::string subject = base_ + ".m." + member_;
    natsStatus s = js_Publish(nullptr, session_.js(), subject.c_str(), nullptr, 0, nullptr, &jerr);
    if (s == NATS_NO_RESPONDERS || jerr == JSStreamNotFoundErr) {
      // The lease stream is in memory: a restarted server has none. Make it
      // again; the leases we held are ours to write again (see below).
      stream_ready_ = false;
      if (Status st = EnsureStream(); !st.ok()) return st;
      recreated = true;
      s = js_Publish(nullptr, session_.js(), subject.c_str(), nullptr, 0, nullptr, &jerr);
    }
    if (s != NATS_OK) return NatsError("group heartbeat", s, jerr);
  }
  for (auto it = seqs_.begin(); it != seqs_.end();) {
    // In a stream made again, a lease is ours if nobody claimed it first.
    Result<uint64_t> seq = Write(LeaseSubject(it->first), recreated ? 0 : it->second);
    if (seq.ok()) {
      it->second = *seq;
      ++it;
    } else if (seq.status().code() == ErrorCode::kFailedPrecondition) {
      lost.push_back(it->first);
      it = seqs_.erase(it);
    } else {
      return seq.status();
    }
  }
  return lost;
}

Result<Leases::Plan> Leases::Step(const std::vector<std::string>& topics, int32_t partitions) {
  Plan plan;
  Result<std::vector<TopicPartition>> lost = Refresh();
  if (!lost.ok()) return lost.status();
  plan.lost = std::move(lost).value();
  // Who is alive, and which leases are held.
  const std::string filter = base_ + ".>";
  jsOptions o;
  jsOptions_Init(&o);
  o.Stream.Info.SubjectsFilter = filter.c_str();
  jsStreamInfo* info = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&info, session_.js(), kLeaseStream, &o, &jerr);
  if (s != NATS_OK) return NatsError("lease stream info", s, jerr);
  std::set<std::string> held;
  int members = 0;
  const std::string member_prefix = base_ + ".m.";
  if (info->State.Subjects != nullptr) {
    for (int i = 0; i < info->State.Subjects->Count; ++i) {
      std::string subject = info->State.Subjects->List[i].Subject;
      if (subject.rfind(member_prefix, 0) == 0) {
        ++members;
      } else {
        held.insert(std::move(subject));
      }
    }
  }
  jsStreamInfo_Destroy(info);
  members = std::max(members, 1);
  const int32_t share = (partitions + members - 1) / members;
  const std::set<std::string> wanted(topics.begin(), topics.end());
  for (const auto& [tp, seq] : seqs_) {
    if (wanted.count(tp.topic) == 0) plan.give_up.push_back(tp);
  }
  for (const std::string& topic : topics) {
    std::vector<int32_t> mine;
    for (int32_t p = 0; p < partitions; ++p) {
      if (seqs_.count({topic, p}) != 0) mine.push_back(p);
    }
    // Give up the highest partitions above our share; claim free ones below it.
    for (size_t i = static_cast<size_t>(share); i < mine.size(); ++i) {
      plan.give_up.push_back({topic, mine[i]});
    }
    int32_t have = static_cast<int32_t>(mine.size());
    for (int32_t p = 0; p < partitions && have < share; ++p) {
      const TopicPartition tp{topic, p};
      if (seqs_.count(tp) != 0 || held.count(LeaseSubject(tp)) != 0) continue;
      Result<uint64_t> seq = Write(LeaseSubject(tp), 0);
      if (seq.ok()) {
        seqs_[tp] = *seq;
        plan.gained.push_back(tp);
        ++have;
      } else if (seq.status().code() != ErrorCode::kFailedPrecondition) {
        return seq.status();
      }
    }
  }
  return plan;
}

void Leases::Release(const TopicPartition& tp) {
  auto it = seqs_.find(tp);
  if (it == seqs_.end()) return;
  // Refresh first: purging only after a successful conditional write makes
  // sure we never drop a lease another member has claimed since ours expired.
  Result<uint64_t> seq = Write(LeaseSubject(tp), it->second);
  seqs_.erase(it);
  if (seq.ok()) Purge(LeaseSubject(tp));
}

void Leases::Leave(Clock::time_point deadline) {
  while (!seqs_.empty() && Clock::now() < deadline) {
    const TopicPartition tp = seqs_.begin()->first;  // Release erases the key
    Release(tp);
  }
  if (stream_ready_ && Clock::now() < deadline) Purge(base_ + ".m." + member_);
}

}  // namespace evbus::transport::nats
