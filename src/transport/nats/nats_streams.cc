#include "transport/nats/nats_streams.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <map>
#include <optional>
#include <thread>

#include "transport/nats/nats_common.h"
#include "transport/nats/nats_notices.h"

namespace evbus::transport::nats {
namespace {

// "orders.3" -> ("orders", 3); false when the last token is not a partition.
bool ParseSubject(std::string_view subject, std::string& topic, int32_t& partition) {
  const size_t dot = subject.rfind('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == subject.size()) return false;
  const std::string_view digits = subject.substr(dot + 1);
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), partition);
  if (ec != std::errc() || end != digits.data() + digits.size() || partition < 0) return false;
  topic.assign(subject.substr(0, dot));
  return true;
}

// A stream's MaxAge for people: "max age 24h", or "no max age".
std::string RetentionText(int64_t max_age_ns) {
  if (max_age_ns <= 0) return "no max age";
  int64_t seconds = max_age_ns / 1'000'000'000;
  const char* unit = "s";
  for (auto [size, name] : {std::pair<int64_t, const char*>{86400, "d"}, {3600, "h"}, {60, "m"}}) {
    if (seconds >= size && seconds % size == 0) {
      seconds /= size;
      unit = name;
      break;
    }
  }
  return "max age " + std::to_string(seconds) + unit;
}

// Tries of a stream's set-up that goes unanswered (EnsureStream).
constexpr int kEnsureAttempts = 3;

// A replicated stream takes publishes once its servers have elected a
// leader, a moment after it was created: publishes before that fail with no
// responders. So creating one waits (boundedly) until it reports a leader.
void WaitForLeader(jsCtx* js, const std::string& name) {
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  for (;;) {
    jsOptions o;
    jsOptions_Init(&o);
    o.Wait = 500;
    jsStreamInfo* info = nullptr;
    const bool led = js_GetStreamInfo(&info, js, name.c_str(), &o, nullptr) == NATS_OK &&
                     info->Cluster != nullptr && info->Cluster->Leader != nullptr;
    jsStreamInfo_Destroy(info);
    if (led || Clock::now() >= deadline) return;
    // Polling the server's state: it announces no election to clients.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace

Status NatsStreams::Ensure(const std::string& topic) {
  const TopicStrategy strategy = session_.config().topic_strategy;
  if (strategy == TopicStrategy::kSkip) return Status();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (ensured_.count(topic) != 0) return Status();
  }
  const NatsConfig& config = session_.config().nats;
  // An ephemeral topic is Core NATS publish/subscribe on the subject <topic>:
  // no stream may store it (nor would its readers ever see a stream's copy).
  if (topics_.ephemeral(topic)) {
    for (const std::string& pattern : config.subjects) {
      if (SubjectMatches(pattern, topic)) {
        return Status(ErrorCode::kFailedPrecondition,
                      "ephemeral topic " + topic + " is under nats.subjects " + pattern +
                          ": stream " + config.stream +
                          " would store it; move the topic or make it persistent");
      }
    }
    std::lock_guard<std::mutex> lock(mu_);
    ensured_.insert(topic);
    return Status();
  }
  if (Status s = session_.Connect(); !s.ok()) return s;
  const NatsConfig& nc = session_.config().nats;
  // A shared stream (nats.stream) is one stream whatever the partitions.
  const int32_t partitions = nc.stream.empty() ? Partitions(nc) : 1;
  for (int32_t p = 0; p < partitions; ++p) {
    // A JetStream API request can go unanswered while a cluster elects its
    // meta leader or creates many replicated streams at once: try again.
    Status s;
    for (int attempt = 1; attempt <= kEnsureAttempts; ++attempt) {
      s = EnsureStream(session_.js(), topic, p);
      if (s.code() != ErrorCode::kUnavailable || !session_.connected()) break;
    }
    if (!s.ok()) return s;
  }
  std::lock_guard<std::mutex> lock(mu_);
  ensured_.insert(topic);
  return Status();
}

Status NatsStreams::EnsureStream(jsCtx* js, const std::string& topic, int32_t partition) {
  const Config& config = session_.config();
  const NatsConfig& nc = config.nats;
  const std::string name = StreamName(nc, topic, partition);
  const std::string subject = Subject(nc, topic, partition);
  jsStreamInfo* info = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&info, js, name.c_str(), nullptr, &jerr);
  const bool exists = s == NATS_OK;
  // A topic outside its stream's subjects would publish into nothing (no
  // responders) and never be consumed: say so before the first publish.
  std::vector<std::string> covering =
      exists && info->Config != nullptr
          ? std::vector<std::string>(info->Config->Subjects,
                                     info->Config->Subjects + info->Config->SubjectsLen)
          : StreamSubjects(nc, topic, partition);
  // The stream's own RePublish, which an update may have to keep.
  std::optional<std::pair<std::string, std::string>> republished;
  bool republished_headers_only = false;
  if (exists && info->Config != nullptr && info->Config->RePublish != nullptr) {
    const jsRePublish& rp = *info->Config->RePublish;
    republished.emplace(rp.Source != nullptr ? rp.Source : "",
                        rp.Destination != nullptr ? rp.Destination : "");
    republished_headers_only = rp.HeadersOnly;
  }
  jsStreamInfo_Destroy(info);
  if (!exists && s != NATS_NOT_FOUND && jerr != JSStreamNotFoundErr) {
    return NatsError("stream " + name + " of topic " + topic, s, jerr);
  }
  if (std::none_of(covering.begin(), covering.end(),
                   [&](const std::string& p) { return SubjectMatches(p, subject); })) {
    std::string list;
    for (const std::string& p : covering) list += (list.empty() ? "" : ", ") + p;
    return Status(ErrorCode::kFailedPrecondition,
                  "topic " + topic + ": subject " + subject + " is not in the subjects [" + list +
                      "] of " + (exists ? "JetStream stream " : "nats.subjects for stream ") +
                      name);
  }
  const TopicStrategy strategy = config.topic_strategy;
  if (exists && strategy != TopicStrategy::kCreateOrUpdate) return Status();
  if (!exists && strategy == TopicStrategy::kValidateOnly) {
    return NotFound("topic " + topic + ": JetStream stream " + name +
                    " does not exist (topic_strategy validate_only)");
  }
  // Shared stream (nats.stream): it must exist and cover the topic; we only
  // create it when missing, with the subjects of this topic (partitioned) or
  // nats.subjects (jxt).
  std::vector<const char*> subjects;
  for (const std::string& p : covering) subjects.push_back(p.c_str());
  const std::string description =
      nc.layout == NatsLayout::kJxt
          ? "evbus/jxt-core bus stream"
          : "evbus topic " + topic + " partition " + std::to_string(partition);
  jsStreamConfig sc;
  jsStreamConfig_Init(&sc);
  sc.Name = name.c_str();
  sc.Description = description.c_str();
  sc.Subjects = subjects.data();
  sc.SubjectsLen = static_cast<int>(subjects.size());
  sc.Storage = nc.storage == "memory" ? js_MemoryStorage : js_FileStorage;
  const TopicConfig& settings = topics_.Get(topic);
  const int replicas = settings.replication > 0 ? settings.replication : nc.replicas;
  sc.Replicas = replicas;
  sc.MaxAge = Nanos(settings.retention.count() > 0 ? settings.retention : nc.max_age);
  sc.MaxBytes = nc.max_bytes;
  sc.MaxMsgs = nc.max_msgs;
  sc.Duplicates = Nanos(nc.duplicate_window);
  // The server rejects a duplicate window longer than the retention.
  if (sc.MaxAge > 0 && sc.Duplicates > sc.MaxAge) sc.Duplicates = sc.MaxAge;
  // Each stored message's headers go to its readers as a notice (see
  // nats_notices.h): they wait on all their partitions at once.
  const std::string notices = NoticeSubject(subject);
  jsRePublish rp;
  jsRePublish_Init(&rp);
  rp.Source = subject.c_str();
  rp.Destination = notices.c_str();
  rp.HeadersOnly = true;
  if (StreamsSendNotices(nc)) sc.RePublish = &rp;
  if (exists && !nc.stream.empty()) return Status();  // a shared stream is the user's
  s = exists ? js_UpdateStream(nullptr, js, &sc, nullptr, &jerr)
             : js_AddStream(nullptr, js, &sc, nullptr, &jerr);
  if (s != NATS_OK && exists && jerr == JSStreamInvalidConfig &&
      (republished.has_value() || sc.RePublish != nullptr)) {
    // nats-server before 2.10 cannot change a stream's RePublish: update the
    // rest, keep the stream's notices as they are, and say so. Notices are
    // hints, so readers work either way.
    jsRePublish kept;
    jsRePublish_Init(&kept);
    if (republished) {
      kept.Source = republished->first.c_str();
      kept.Destination = republished->second.c_str();
      kept.HeadersOnly = republished_headers_only;
    }
    sc.RePublish = republished ? &kept : nullptr;
    jerr = static_cast<jsErrCode>(0);
    s = js_UpdateStream(nullptr, js, &sc, nullptr, &jerr);
    if (s == NATS_OK) {
      std::fprintf(stderr,
                   "evbus nats: stream %s keeps its notices %s (nats.notices is %s): this "
                   "nats-server cannot change a stream's RePublish; 2.10 and later can\n",
                   name.c_str(), republished ? "on" : "off", nc.notices ? "true" : "false");
    }
  }
  if (s != NATS_OK && !exists && jerr == JSStreamNameExistErr) s = NATS_OK;  // raced
  if (s != NATS_OK) {
    // Taken first: cnats keeps the error text per thread, and the check
    // below would overwrite it.
    Status error = NatsError(
        std::string(exists ? "update" : "create") + " stream " + name + " for topic " + topic, s,
        jerr);
    // Two members creating one stream at once: the server may answer the
    // second with "subjects overlap" (with the stream the first just made)
    // rather than success. Overlap with another stream still fails.
    jsStreamInfo* made = nullptr;
    if (!exists && jerr == JSStreamSubjectOverlapErr &&
        js_GetStreamInfo(&made, js, name.c_str(), nullptr, nullptr) == NATS_OK) {
      jsStreamInfo_Destroy(made);
      return Status();
    }
    return error;
  }
  if (!exists && replicas > 1) WaitForLeader(js, name);
  return Status();
}

namespace {

// The stream's servers from its cluster info (a leader and its peers);
// nothing when the server is not clustered.
std::optional<PartitionPlacement> Placement(int32_t partition, const jsStreamInfo* info) {
  const jsClusterInfo* c = info->Cluster;
  if (c == nullptr || c->Leader == nullptr) return std::nullopt;
  PartitionPlacement out;
  out.partition = partition;
  out.leader = c->Leader;
  out.replicas.push_back(c->Leader);
  out.in_sync.push_back(c->Leader);
  for (int i = 0; i < c->ReplicasLen; ++i) {
    const jsPeerInfo* peer = c->Replicas[i];
    if (peer == nullptr || peer->Name == nullptr) continue;
    out.replicas.push_back(peer->Name);
    if (peer->Current && !peer->Offline) out.in_sync.push_back(peer->Name);
  }
  return out;
}

}  // namespace

Result<TopicInfo> NatsStreams::Describe(const std::string& topic) {
  if (Status s = session_.Connect(); !s.ok()) return s;
  const NatsConfig& nc = session_.config().nats;
  TopicInfo out;
  out.name = topic;
  out.partitions = Partitions(nc);
  for (int32_t p = 0; p < out.partitions; ++p) {
    const std::string name = StreamName(nc, topic, p);
    jsStreamInfo* info = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_GetStreamInfo(&info, session_.js(), name.c_str(), nullptr, &jerr);
    if (s != NATS_OK) {
      Status st = NatsError("topic " + topic + ": stream " + name, s, jerr);
      if (st.code() == ErrorCode::kNotFound) {
        return NotFound("topic " + topic + " does not exist (no JetStream stream " + name + ")");
      }
      return st;
    }
    if (p == 0) out.retention = RetentionText(info->Config != nullptr ? info->Config->MaxAge : 0);
    if (std::optional<PartitionPlacement> at = Placement(p, info)) {
      out.placement.push_back(std::move(*at));
    }
    jsStreamInfo_Destroy(info);
  }
  return out;
}

Status NatsStreams::Delete(const std::string& topic) {
  const NatsConfig& nc = session_.config().nats;
  if (!nc.stream.empty()) {
    return FailedPrecondition("topic " + topic + " lives in the shared stream " + nc.stream +
                              " (nats.stream): it cannot be deleted alone; purge it instead");
  }
  if (Status s = session_.Connect(); !s.ok()) return s;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ensured_.erase(topic);
  }
  for (int32_t p = 0; p < Partitions(nc); ++p) {
    const std::string name = StreamName(nc, topic, p);
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_DeleteStream(session_.js(), name.c_str(), nullptr, &jerr);
    if (s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) continue;
    if (s != NATS_OK) return NatsError("delete stream " + name + " of topic " + topic, s, jerr);
  }
  return Status();
}

Result<std::vector<TopicInfo>> NatsStreams::List() {
  if (Status s = session_.Connect(); !s.ok()) return s;
  jsStreamInfoList* list = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_Streams(&list, session_.js(), nullptr, &jerr);
  if (s == NATS_NOT_FOUND) return std::vector<TopicInfo>();  // no stream at all
  if (s != NATS_OK) return NatsError("list JetStream streams", s, jerr);
  struct Found {
    std::set<int32_t> partitions;
    int64_t max_age_ns = 0;
    std::vector<PartitionPlacement> placement;
  };
  std::map<std::string, Found> topics;
  const NatsConfig& nc = session_.config().nats;
  for (int i = 0; i < list->Count; ++i) {
    const jsStreamConfig* sc = list->List[i]->Config;
    if (sc == nullptr || sc->Name == nullptr) continue;
    for (int j = 0; j < sc->SubjectsLen; ++j) {
      std::string topic;
      int32_t partition = 0;
      if (nc.layout == NatsLayout::kJxt) {
        // One stream for the bus: its subjects (patterns, maybe) are the topics.
        if (nc.stream != sc->Name) continue;
        Found& f = topics[sc->Subjects[j]];
        f.partitions.insert(0);
        f.max_age_ns = sc->MaxAge;
        continue;
      }
      if (!ParseSubject(sc->Subjects[j], topic, partition)) continue;
      if (StreamName(nc, topic, partition) != sc->Name) continue;  // not evbus's
      Found& f = topics[topic];
      f.partitions.insert(partition);
      f.max_age_ns = sc->MaxAge;
      if (std::optional<PartitionPlacement> at = Placement(partition, list->List[i])) {
        f.placement.push_back(std::move(*at));
      }
    }
  }
  jsStreamInfoList_Destroy(list);
  std::vector<TopicInfo> out;
  for (const auto& [name, f] : topics) {
    TopicInfo info;
    info.name = name;
    info.partitions = static_cast<int32_t>(f.partitions.size());
    info.retention = RetentionText(f.max_age_ns);
    info.placement = f.placement;
    std::sort(info.placement.begin(), info.placement.end(),
              [](const PartitionPlacement& a, const PartitionPlacement& b) {
                return a.partition < b.partition;
              });
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace evbus::transport::nats
