// A NATS consumer group's lag straight from the server: for each partition
// stream of each topic (nats.partitions of them), the pending and
// ack-pending messages of the group's durable consumer; a partition the
// group never consumed lags by every message its stream holds.

#include "ops/group_lag.h"
#include "transport/nats/nats_common.h"
#include "transport/nats/nats_session.h"

namespace evbus::ops {

namespace nats = transport::nats;

Result<std::vector<GroupPartitionLag>> ReadNatsGroupLag(const Config& config,
                                                        const std::string& group,
                                                        const std::vector<std::string>& topics) {
  if (topics.empty()) {
    return InvalidArgument("group lag on NATS: name the topics (JetStream keeps no group index)");
  }
  nats::NatsSession session(config, 0);
  nats::SessionPin pin(session);
  if (Status s = session.Connect(); !s.ok()) return s;
  std::vector<GroupPartitionLag> out;
  for (const std::string& topic : topics) {
    for (int32_t p = 0; p < nats::Partitions(config.nats); ++p) {
      const std::string stream = nats::StreamName(config.nats, topic, p);
      jsStreamInfo* si = nullptr;
      jsErrCode jerr = static_cast<jsErrCode>(0);
      natsStatus s = js_GetStreamInfo(&si, session.js(), stream.c_str(), nullptr, &jerr);
      if (s != NATS_OK) {
        Status st = nats::NatsError("topic " + topic + ": stream " + stream, s, jerr);
        if (st.code() == ErrorCode::kNotFound) {
          return NotFound("topic " + topic + " does not exist (no JetStream stream " + stream +
                          ")");
        }
        return st;
      }
      GroupPartitionLag lag;
      lag.topic = topic;
      lag.partition = p;
      lag.log_end = static_cast<int64_t>(si->State.LastSeq);  // offsets are sequence - 1
      const int64_t held = static_cast<int64_t>(si->State.Msgs);
      jsStreamInfo_Destroy(si);

      const std::string durable = nats::DurableName(config.nats, group, topic, p);
      jsConsumerInfo* ci = nullptr;
      s = js_GetConsumerInfo(&ci, session.js(), stream.c_str(), durable.c_str(), nullptr, &jerr);
      if (s == NATS_NOT_FOUND || (s != NATS_OK && jerr == JSConsumerNotFoundErr)) {
        lag.lag = held;  // never consumed by this group
      } else if (s != NATS_OK) {
        return nats::NatsError("consumer " + durable + " on " + stream, s, jerr);
      } else {
        const int64_t floor = static_cast<int64_t>(ci->AckFloor.Stream);
        lag.committed = floor == 0 ? -1 : floor;
        lag.lag = static_cast<int64_t>(ci->NumPending) + ci->NumAckPending;
        jsConsumerInfo_Destroy(ci);
      }
      out.push_back(std::move(lag));
    }
  }
  return out;
}

}  // namespace evbus::ops
