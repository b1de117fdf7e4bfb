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
  // Replicated like the topics' streams: on a cluster, one server's death
  // must not take every group's leases with it.
  sc.Replicas = session_.config().nats.replicas;
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

Result<Leases::Held> Leases::Write(const TopicPartition& tp, uint64_t expect) {
  const std::string subject = LeaseSubject(tp);
  const Clock::time_point sent = Clock::now();
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
  Held held{ack->Sequence, sent + kLeaseValid};
  jsPubAck_Destroy(ack);
  return held;
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
  for (auto it = held_.begin(); it != held_.end();) {
    // In a stream made again, a lease is ours if nobody claimed it first.
    Result<Held> written = Write(it->first, recreated ? 0 : it->second.seq);
    if (written.ok()) {
      it->second = *written;
      ++it;
    } else if (written.status().code() == ErrorCode::kFailedPrecondition) {
      lost.push_back(it->first);
      it = held_.erase(it);
    } else {
      return written.status();
    }
  }
  return lost;
}

std::vector<TopicPartition> Leases::Lapsed(Clock::time_point now) {
  std::vector<TopicPartition> lapsed;
  for (auto it = held_.begin(); it != held_.end();) {
    if (now < it->second.valid_until) {
      ++it;
      continue;
    }
    lapsed.push_back(it->first);
    it = held_.erase(it);
  }
  return lapsed;
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
  // Server clock: LastTime is a heartbeat just written (ours, or newer).
  const bool young = info->State.LastTime - info->Created < Nanos(kLeaseTtl);
  jsStreamInfo_Destroy(info);
  members = std::max(members, 1);
  const int32_t share = (partitions + members - 1) / members;
  const std::set<std::string> wanted(topics.begin(), topics.end());
  for (const auto& [tp, lease] : held_) {
    if (wanted.count(tp.topic) == 0) plan.give_up.push_back(tp);
  }
  for (const std::string& topic : topics) {
    std::vector<int32_t> mine;
    for (int32_t p = 0; p < partitions; ++p) {
      if (held_.count({topic, p}) != 0) mine.push_back(p);
    }
    // Give up the highest partitions above our share; claim free ones below it.
    for (size_t i = static_cast<size_t>(share); i < mine.size(); ++i) {
      plan.give_up.push_back({topic, mine[i]});
    }
    if (young) continue;  // see the file comment
    int32_t have = static_cast<int32_t>(mine.size());
    for (int32_t p = 0; p < partitions && have < share; ++p) {
      const TopicPartition tp{topic, p};
      if (held_.count(tp) != 0 || held.count(LeaseSubject(tp)) != 0) continue;
      Result<Held> written = Write(tp, 0);
      if (written.ok()) {
        held_[tp] = *written;
        plan.gained.push_back(tp);
        ++have;
      } else if (written.status().code() != ErrorCode::kFailedPrecondition) {
        return written.status();
      }
    }
  }
  return plan;
}

void Leases::Release(const TopicPartition& tp) {
  auto it = held_.find(tp);
  if (it == held_.end()) return;
  // Refresh first: purging only after a successful conditional write makes
  // sure we never drop a lease another member has claimed since ours expired.
  Result<Held> written = Write(tp, it->second.seq);
  held_.erase(it);
  if (written.ok()) Purge(LeaseSubject(tp));
}

void Leases::Leave(Clock::time_point deadline) {
  while (!held_.empty() && Clock::now() < deadline) {
    const TopicPartition tp = held_.begin()->first;  // Release erases the key
    Release(tp);
  }
  if (stream_ready_ && Clock::now() < deadline) Purge(base_ + ".m." + member_);
}

}  // namespace evbus::transport::nats
