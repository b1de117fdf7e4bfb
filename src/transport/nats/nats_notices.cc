#include "transport/nats/nats_notices.h"

#include <algorithm>
#include <charconv>

#include "transport/nats/nats_common.h"

namespace evbus::transport::nats {
namespace {

constexpr char kNoticePrefix[] = "_EVBUS.NOTICE.";
// A partition number beyond nats.partitions' range is not ours.
constexpr int32_t kMaxPartition = 10'000;
// Each topic subscription's cnats queue. A notice is its message's headers
// (a few hundred bytes), taken at once by a callback that only records it.
constexpr int kPendingNotices = 65'536;
constexpr int kPendingNoticeBytes = 32 << 20;

// "<prefix><topic>.<p>" -> p; -1 when the last token is not a partition.
int32_t PartitionOf(std::string_view subject) {
  const size_t dot = subject.rfind('.');
  if (dot == std::string_view::npos) return -1;
  int32_t p = -1;
  const char* end = subject.data() + subject.size();
  auto [at, ec] = std::from_chars(subject.data() + dot + 1, end, p);
  return ec == std::errc() && at == end && p >= 0 && p < kMaxPartition ? p : -1;
}

}  // namespace

struct Notices::Board {
  mutable std::mutex mu;
  std::condition_variable cv;
  // Highest sequence told, by topic and partition.
  std::map<std::string, std::vector<uint64_t>, std::less<>> latest;
  uint64_t told = 0;  // notices so far
  uint64_t seen = 0;  // `told` when the last Wait returned
};

// A topic subscription's closure, kept by the session until its connection
// is gone: cnats may still be in a callback after the unsubscribe.
struct Notices::Listener {
  std::shared_ptr<Board> board;
  std::string topic;

  static void OnNotice(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
    auto* self = static_cast<Listener*>(closure);
    const int32_t p = PartitionOf(natsMsg_GetSubject(msg));
    const char* text = nullptr;
    uint64_t seq = 0;
    if (p >= 0 && natsMsgHeader_Get(msg, "Nats-Sequence", &text) == NATS_OK && text != nullptr) {
      const std::string_view t(text);
      auto [at, ec] = std::from_chars(t.data(), t.data() + t.size(), seq);
      if (ec != std::errc()) seq = 0;
    }
    natsMsg_Destroy(msg);
    if (seq == 0) return;
    Board& b = *self->board;
    {
      std::lock_guard<std::mutex> lock(b.mu);
      std::vector<uint64_t>& v = b.latest[self->topic];
      if (v.size() <= static_cast<size_t>(p)) v.resize(static_cast<size_t>(p) + 1, 0);
      v[static_cast<size_t>(p)] = std::max(v[static_cast<size_t>(p)], seq);
      ++b.told;
    }
    b.cv.notify_all();
  }
};

bool StreamsSendNotices(const NatsConfig& config) {
  return config.notices && config.layout == NatsLayout::kPartitioned && config.stream.empty();
}

std::string NoticeSubject(std::string_view subject) { return kNoticePrefix + std::string(subject); }

Notices::Notices(NatsSession& session) : session_(session), board_(std::make_shared<Board>()) {}

Status Notices::Set(const std::vector<std::string>& topics) {
  for (auto it = subs_.begin(); it != subs_.end();) {
    if (std::find(topics.begin(), topics.end(), it->first) != topics.end()) {
      ++it;
      continue;
    }
    session_.Retire(it->second);
    it = subs_.erase(it);
  }
  const NatsConfig& config = session_.config().nats;
  for (const std::string& topic : topics) {
    if (subs_.count(topic) != 0) continue;
    // Partition 0's subject with its partition token a wildcard.
    std::string subject = NoticeSubject(Subject(config, topic, 0));
    subject.replace(subject.rfind('.') + 1, std::string::npos, "*");
    auto listener = std::make_shared<Listener>(Listener{board_, topic});
    natsSubscription* sub = nullptr;
    natsStatus s = NATS_OK;
    // The subscription's delivery thread is the bus's.
    session_.Attributed([&] {
      s = natsConnection_Subscribe(&sub, session_.connection(), subject.c_str(),
                                   &Listener::OnNotice, listener.get());
    });
    if (s != NATS_OK) return NatsError("subscribe to the notices of topic " + topic, s);
    session_.KeepUntilClosed(listener);
    natsSubscription_SetPendingLimits(sub, kPendingNotices, kPendingNoticeBytes);
    subs_[topic] = sub;
  }
  return Status();
}

void Notices::UnsubscribeAll() {
  for (auto& [topic, sub] : subs_) {
    session_.Retire(sub);
  }
  subs_.clear();
}

uint64_t Notices::Latest(const TopicPartition& tp) const {
  std::lock_guard<std::mutex> lock(board_->mu);
  auto it = board_->latest.find(tp.topic);
  if (it == board_->latest.end() || tp.partition < 0 ||
      static_cast<size_t>(tp.partition) >= it->second.size()) {
    return 0;
  }
  return it->second[static_cast<size_t>(tp.partition)];
}

bool Notices::Heard(std::string_view topic) const {
  std::lock_guard<std::mutex> lock(board_->mu);
  return board_->latest.find(topic) != board_->latest.end();
}

void Notices::Wait(std::chrono::steady_clock::time_point until, const std::function<bool()>& stop) {
  std::unique_lock<std::mutex> lock(board_->mu);
  board_->cv.wait_until(lock, until, [&] { return board_->told != board_->seen || stop(); });
  board_->seen = board_->told;
}

void Notices::Poke() {
  { std::lock_guard<std::mutex> lock(board_->mu); }
  board_->cv.notify_all();
}

}  // namespace evbus::transport::nats
