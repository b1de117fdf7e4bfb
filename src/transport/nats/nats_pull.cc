#include "transport/nats/nats_pull.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "transport/nats/nats_common.h"

namespace evbus::transport::nats {
namespace {

// A request whose end did not come (its 408 was lost with a connection)
// stops counting this long after its expiry; its late answer, if any, is
// still taken.
constexpr auto kExpiryGrace = std::chrono::milliseconds(500);

// Splits "<prefix>.<target>.<request>"; false for any other subject.
bool ParseReplyTo(std::string_view subject, std::string_view prefix, uint32_t& target,
                  uint64_t& request) {
  if (subject.size() <= prefix.size() + 1 || subject.substr(0, prefix.size()) != prefix ||
      subject[prefix.size()] != '.') {
    return false;
  }
  const std::string rest(subject.substr(prefix.size() + 1));
  char* end = nullptr;
  const unsigned long t = std::strtoul(rest.c_str(), &end, 10);
  if (end == rest.c_str() || *end != '.') return false;
  const char* r = end + 1;
  const unsigned long long q = std::strtoull(r, &end, 10);
  if (end == r || *end != '\0') return false;
  target = static_cast<uint32_t>(t);
  request = q;
  return true;
}

}  // namespace

Status PullInbox::Open() {
  if (sub_ != nullptr) return Status();
  if (Status s = session_.Connect(); !s.ok()) return s;
  natsInbox* inbox = nullptr;
  if (natsStatus s = natsInbox_Create(&inbox); s != NATS_OK) return NatsError("inbox", s);
  prefix_ = inbox;
  natsInbox_Destroy(inbox);
  const std::string subject = prefix_ + ".*.*";
  natsStatus s = NATS_OK;
  session_.Attributed(
      [&] { s = natsConnection_SubscribeSync(&sub_, session_.connection(), subject.c_str()); });
  if (s != NATS_OK) {
    sub_ = nullptr;
    return NatsError("subscribe to pull inbox " + subject, s);
  }
  // Bounded by the requests (see the header), not by cnats's default limits,
  // beyond which it would drop deliveries as a slow consumer.
  natsSubscription_SetPendingLimits(sub_, -1, -1);
  return Status();
}

void PullInbox::Close() {
  if (sub_ == nullptr) return;
  natsSubscription_Unsubscribe(sub_);
  natsSubscription_Destroy(sub_);
  sub_ = nullptr;
  open_.clear();
}

void PullInbox::Forget(uint32_t target) {
  std::erase_if(open_, [&](const auto& entry) { return entry.second.target == target; });
}

Status PullInbox::Request(uint32_t target, const std::string& stream, const std::string& durable,
                          int64_t batch, std::chrono::milliseconds expires) {
  if (Status s = Open(); !s.ok()) return s;
  const uint64_t id = ++last_request_;
  const std::string subject = "$JS.API.CONSUMER.MSG.NEXT." + stream + "." + durable;
  const std::string reply = prefix_ + "." + std::to_string(target) + "." + std::to_string(id);
  const std::string body = "{\"batch\":" + std::to_string(batch) +
                           ",\"expires\":" + std::to_string(Nanos(expires)) + "}";
  natsStatus s =
      natsConnection_PublishRequest(session_.connection(), subject.c_str(), reply.c_str(),
                                    body.data(), static_cast<int>(body.size()));
  if (s != NATS_OK) return NatsError("pull request to " + durable, s);
  open_[id] = OpenRequest{target, batch, Clock::now() + expires};
  return Status();
}

int64_t PullInbox::Outstanding(uint32_t target, std::chrono::milliseconds margin) {
  const auto now = Clock::now();
  Expire(now);
  int64_t n = 0;
  for (const auto& [id, r] : open_) {
    if (r.target == target && r.expires_at - now > margin) n += r.remaining;
  }
  return n;
}

void PullInbox::Expire(Clock::time_point now) {
  std::erase_if(open_,
                [&](const auto& entry) { return now > entry.second.expires_at + kExpiryGrace; });
}

void PullInbox::Delivered(uint32_t target) {
  // The server fills a consumer's requests in the order they came.
  for (auto it = open_.begin(); it != open_.end(); ++it) {
    if (it->second.target != target) continue;
    if (--it->second.remaining <= 0) open_.erase(it);
    return;
  }
}

uint64_t PullInbox::Mark() const {
  int queued = 0;
  if (sub_ == nullptr || natsSubscription_GetPending(sub_, &queued, nullptr) != NATS_OK) {
    queued = 0;
  }
  return taken_ + static_cast<uint64_t>(std::max(0, queued));
}

bool PullInbox::Next(Answer& answer, std::chrono::milliseconds wait) {
  if (sub_ == nullptr) return false;
  const auto deadline = Clock::now() + wait;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    natsMsg* msg = nullptr;
    if (natsSubscription_NextMsg(&msg, sub_, std::max<int64_t>(0, left.count())) != NATS_OK) {
      return false;  // timeout; or no responders, whose requests expire on their own
    }
    ++taken_;
    // A delivery carries its stream's subject; only the server's status
    // answers come on the reply subject itself. (Telling them apart by the
    // subject keeps a user's own "Status" header on an empty event a delivery.)
    uint32_t target = 0;
    uint64_t request = 0;
    const char* status = nullptr;
    if (!ParseReplyTo(natsMsg_GetSubject(msg), prefix_, target, request) ||
        natsMsg_GetDataLength(msg) > 0 || natsMsgHeader_Get(msg, "Status", &status) != NATS_OK) {
      answer = Answer{msg, taken_, 0};
      return true;
    }
    // 404/408: the request ended; 409: ended too, and it may say why the
    // consumer cannot be read (deleted: reattach); 100: a heartbeat.
    // (Header values live in the message: read before it is destroyed.)
    const std::string code(status);
    const char* why = nullptr;
    const bool gone = code == "409" && natsMsgHeader_Get(msg, "Description", &why) == NATS_OK &&
                      why != nullptr && std::strstr(why, "Consumer Deleted") != nullptr;
    natsMsg_Destroy(msg);
    if (code != "100") open_.erase(request);
    if (gone) {
      answer = Answer{nullptr, taken_, target};
      return true;
    }
  }
}

}  // namespace evbus::transport::nats
