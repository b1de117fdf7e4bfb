#include "transport/nats/nats_streams.h"

#include "transport/nats/nats_common.h"

namespace evbus::transport::nats {

Status NatsStreams::Ensure(const std::string& topic) {
  const TopicStrategy strategy = session_.config().topic_strategy;
  if (strategy == TopicStrategy::kSkip) return Status();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (ensured_.count(topic) != 0) return Status();
  }
  if (Status s = session_.Connect(); !s.ok()) return s;
  const int32_t partitions =
      session_.config().nats.stream.empty() ? session_.config().nats.partitions : 1;
  for (int32_t p = 0; p < partitions; ++p) {
    if (Status s = EnsureStream(session_.js(), topic, p); !s.ok()) return s;
  }
  std::lock_guard<std::mutex> lock(mu_);
  ensured_.insert(topic);
  return Status();
}

Status NatsStreams::EnsureStream(jsCtx* js, const std::string& topic, int32_t partition) {
  const Config& config = session_.config();
  const NatsConfig& nc = config.nats;
  const std::string name = StreamName(nc, topic, partition);
  jsStreamInfo* info = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&info, js, name.c_str(), nullptr, &jerr);
  jsStreamInfo_Destroy(info);
  const bool exists = s == NATS_OK;
  if (!exists && s != NATS_NOT_FOUND && jerr != JSStreamNotFoundErr) {
    return NatsError("stream " + name + " of topic " + topic, s, jerr);
  }
  const TopicStrategy strategy = config.topic_strategy;
  if (exists && strategy != TopicStrategy::kCreateOrUpdate) return Status();
  if (!exists && strategy == TopicStrategy::kValidateOnly) {
    return NotFound("topic " + topic + ": JetStream stream " + name +
                    " does not exist (topic_strategy validate_only)");
  }
  // Shared stream (nats.stream): it must exist and cover the topic; we only
  // create it when missing, with the subjects of this topic.
  const std::string subject = nc.stream.empty() ? Subject(topic, partition)
                                                : Subject(topic, 0).substr(0, topic.size()) + ".*";
  const char* subjects[] = {subject.c_str()};
  const std::string description =
      "evbus topic " + topic + " partition " + std::to_string(partition);
  jsStreamConfig sc;
  jsStreamConfig_Init(&sc);
  sc.Name = name.c_str();
  sc.Description = description.c_str();
  sc.Subjects = subjects;
  sc.SubjectsLen = 1;
  sc.Storage = nc.storage == "memory" ? js_MemoryStorage : js_FileStorage;
  sc.Replicas = nc.replicas;
  sc.MaxAge = Nanos(nc.max_age);
  sc.MaxBytes = nc.max_bytes;
  sc.MaxMsgs = nc.max_msgs;
  sc.Duplicates = Nanos(nc.duplicate_window);
  // The server rejects a duplicate window longer than the retention.
  if (sc.MaxAge > 0 && sc.Duplicates > sc.MaxAge) sc.Duplicates = sc.MaxAge;
  if (exists && !nc.stream.empty()) return Status();  // a shared stream is the user's
  s = exists ? js_UpdateStream(nullptr, js, &sc, nullptr, &jerr)
             : js_AddStream(nullptr, js, &sc, nullptr, &jerr);
  if (s != NATS_OK && !exists && jerr == JSStreamNameExistErr) return Status();  // raced
  if (s != NATS_OK) {
    return NatsError(
        std::string(exists ? "update" : "create") + " stream " + name + " for topic " + topic, s,
        jerr);
  }
  return Status();
}

Result<int32_t> NatsStreams::Describe(const std::string& topic) {
  if (Status s = session_.Connect(); !s.ok()) return s;
  const std::string name = StreamName(session_.config().nats, topic, 0);
  jsStreamInfo* info = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&info, session_.js(), name.c_str(), nullptr, &jerr);
  jsStreamInfo_Destroy(info);
  if (s != NATS_OK) {
    Status st = NatsError("topic " + topic + ": stream " + name, s, jerr);
    if (st.code() == ErrorCode::kNotFound) {
      return NotFound("topic " + topic + " does not exist (no JetStream stream " + name + ")");
    }
    return st;
  }
  return session_.config().nats.partitions;
}

}  // namespace evbus::transport::nats
