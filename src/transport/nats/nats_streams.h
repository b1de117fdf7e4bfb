// NatsStreams: applies config.topic_strategy to the JetStream streams behind a
// topic, once per topic per transport (the producer's first publish to a topic
// and the bus's Start both ask).
//
// Thread safety: thread-safe; REQUIRES the session pinned by the caller.

#ifndef EVBUS_TRANSPORT_NATS_NATS_STREAMS_H_
#define EVBUS_TRANSPORT_NATS_NATS_STREAMS_H_

#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "transport/nats/nats_session.h"

namespace evbus::transport::nats {

class NatsStreams {
 public:
  // `topics` (per-topic settings) must outlive this.
  NatsStreams(NatsSession& session, const TopicTable& topics)
      : session_(session), topics_(topics) {}

  // Errors: NotFound (missing under validate_only), Unavailable.
  Status Ensure(const std::string& topic);
  // True for a Core NATS topic (Persistence::kEphemeral): no stream.
  bool ephemeral(std::string_view topic) const { return topics_.ephemeral(topic); }
  // The topic's partitions, retention and (clustered) where each partition's
  // stream lives. Errors: NotFound, Unavailable.
  Result<TopicInfo> Describe(const std::string& topic);
  // Every topic with evbus streams on the server, sorted by name: a stream
  // belongs to topic T when a subject of it is "T.<p>" and its name is the
  // one evbus gives T's partition p. Partitions are the ones found.
  // Errors: Unavailable.
  Result<std::vector<TopicInfo>> List();
  // Deletes the streams of `topic`'s partitions (a missing one is skipped)
  // and forgets that it was ensured. Errors: FailedPrecondition (nats.stream
  // set: a shared stream holds other topics too), Unavailable.
  Status Delete(const std::string& topic);

 private:
  Status EnsureStream(jsCtx* js, const std::string& topic, int32_t partition);

  NatsSession& session_;
  const TopicTable& topics_;
  std::mutex mu_;
  std::set<std::string> ensured_;
};

}  // namespace evbus::transport::nats

#endif  // EVBUS_TRANSPORT_NATS_NATS_STREAMS_H_
