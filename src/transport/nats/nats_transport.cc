#include "transport/nats/nats_transport.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "transport/nats/nats_common.h"
#include "transport/nats/nats_consumer.h"
#include "transport/nats/nats_producer.h"
#include "transport/nats/nats_session.h"
#include "transport/nats/nats_streams.h"
#include "transport/nats/nats_topic_tools.h"

namespace evbus::transport {
namespace nats {
namespace {

class NatsTransport final : public Transport {
 public:
  NatsTransport(const Config& config, uint64_t bus_id)
      : session_(config, bus_id), streams_(session_, *topics()) {}

  std::string_view name() const override { return "nats"; }
  void SetErrorSink(ErrorSink sink) override { session_.SetErrorSink(std::move(sink)); }
  void SetConnectionSink(ConnectionSink sink) override {
    session_.SetConnectionSink(std::move(sink));
  }
  Result<std::unique_ptr<Producer>> CreateProducer() override {
    return NewNatsProducer(session_, streams_);
  }
  Result<std::unique_ptr<Consumer>> CreateConsumer(const std::string& group) override {
    return NewNatsConsumer(session_, streams_, group);
  }
  Status EnsureTopic(const std::string& topic) override {
    SessionPin pin(session_);
    return streams_.Ensure(topic);
  }
  Result<TopicInfo> DescribeTopic(const std::string& topic) override {
    SessionPin pin(session_);
    return streams_.Describe(topic);
  }
  Result<std::vector<TopicInfo>> ListTopics() override {
    SessionPin pin(session_);
    return streams_.List();
  }
  bool connected() const override { return session_.connected(); }
  Status ReadTopic(const std::string& topic, const TopicVisitor& visit) override {
    SessionPin pin(session_);
    return ReadWholeTopic(session_, topic, visit);
  }
  Result<int64_t> PurgeTopic(const std::string& topic) override {
    SessionPin pin(session_);
    return PurgeWholeTopic(session_, topic);
  }
  Status DeleteTopics(const std::vector<std::string>& topics) override {
    SessionPin pin(session_);
    for (const std::string& topic : topics) {
      if (Status s = streams_.Delete(topic); !s.ok()) return s;
    }
    return Status();
  }

 private:
  NatsSession session_;  // before streams_: they use it
  NatsStreams streams_;
};

}  // namespace

Result<int64_t> CommittedOffset(const Config& config, const std::string& group,
                                const std::string& topic, int32_t partition) {
  NatsSession session(config, 0);
  SessionPin pin(session);
  if (Status s = session.Connect(); !s.ok()) return s;
  const std::string stream = StreamName(config.nats, topic, partition);
  const std::string durable = DurableName(config.nats, group, topic, partition);
  jsConsumerInfo* ci = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s =
      js_GetConsumerInfo(&ci, session.js(), stream.c_str(), durable.c_str(), nullptr, &jerr);
  if (s != NATS_OK) return NatsError("consumer " + durable + " on " + stream, s, jerr);
  // Offsets are sequence - 1, so the next offset to read is the ack floor's sequence.
  const int64_t floor = static_cast<int64_t>(ci->AckFloor.Stream);
  jsConsumerInfo_Destroy(ci);
  return floor == 0 ? -1 : floor;
}

Status DeleteTopics(const Config& config, const std::string& topic_prefix) {
  return DeleteStreams(config, "EVBUS_" + Sanitize(topic_prefix));
}

Status DeleteStreams(const Config& config, const std::string& prefix) {
  NatsSession session(config, 0);
  SessionPin pin(session);
  if (Status s = session.Connect(); !s.ok()) return s;
  jsStreamNamesList* names = nullptr;
  natsStatus s = js_StreamNames(&names, session.js(), nullptr, nullptr);
  if (s == NATS_NOT_FOUND) return Status();  // no stream at all
  if (s != NATS_OK) return NatsError("list streams", s);
  Status result;
  for (int i = 0; i < names->Count; ++i) {
    if (std::string_view(names->List[i]).rfind(prefix, 0) != 0) continue;
    s = js_DeleteStream(session.js(), names->List[i], nullptr, nullptr);
    if (s != NATS_OK && result.ok()) result = NatsError(std::string("delete ") + names->List[i], s);
  }
  jsStreamNamesList_Destroy(names);
  return result;
}

std::string ProbeServer(const NatsConfig& config) {
  if (config.urls.empty()) return "nats.urls is empty";
  std::string url = config.urls.front();
  if (size_t scheme = url.find("://"); scheme != std::string::npos) url = url.substr(scheme + 3);
  if (size_t at = url.rfind('@'); at != std::string::npos) url = url.substr(at + 1);
  const size_t colon = url.rfind(':');
  const std::string host = colon == std::string::npos ? url : url.substr(0, colon);
  const std::string port = colon == std::string::npos ? "4222" : url.substr(colon + 1);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0 || res == nullptr) {
    return "cannot resolve " + host;
  }
  std::string why = "no NATS server answers at " + config.urls.front();
  const int fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd >= 0) {
    if (::connect(fd, res->ai_addr, res->ai_addrlen) == 0 || errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      int err = 0;
      socklen_t len = sizeof(err);
      if (::poll(&p, 1, static_cast<int>(Millis(config.connect_timeout))) == 1 &&
          ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0) {
        why.clear();
      }
    }
    ::close(fd);
  }
  ::freeaddrinfo(res);
  return why;
}

}  // namespace nats

Result<std::unique_ptr<Transport>> NewNatsTransport(const Config& config, uint64_t bus_id) {
  if (config.nats.urls.empty()) return InvalidArgument("nats.urls: required for transport nats");
  return std::unique_ptr<Transport>(new nats::NatsTransport(config, bus_id));
}

}  // namespace evbus::transport
