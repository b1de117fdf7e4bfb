#include "transport/nats/nats_ephemeral.h"

#include <algorithm>
#include <iterator>
#include <limits>

#include "transport/nats/nats_common.h"

namespace evbus::transport::nats {

Status EphemeralSubscriptions::Set(const std::vector<std::string>& topics,
                                   std::vector<TopicPartition>* added,
                                   std::vector<TopicPartition>* removed) {
  for (auto it = subs_.begin(); it != subs_.end();) {
    if (std::find(topics.begin(), topics.end(), it->first) != topics.end()) {
      ++it;
      continue;
    }
    session_.Retire(it->second.sub);
    if (removed != nullptr) removed->push_back({it->first, 0});
    it = subs_.erase(it);
  }
  for (const std::string& topic : topics) {
    if (subs_.count(topic) != 0) continue;
    if (Status s = session_.Connect(); !s.ok()) return s;
    natsSubscription* sub = nullptr;
    natsStatus s = NATS_OK;
    // The subscription may start cnats threads: they are the bus's.
    session_.Attributed([&] {
      s = natsConnection_QueueSubscribeSync(&sub, session_.connection(), topic.c_str(),
                                            group_.c_str());
    });
    if (s != NATS_OK) return NatsError("subscribe to ephemeral topic " + topic, s);
    const SubscriberConfig& sc = session_.config().subscriber;
    const int64_t bytes = std::min<int64_t>(sc.memory_budget, std::numeric_limits<int>::max());
    natsSubscription_SetPendingLimits(sub, sc.window, static_cast<int>(bytes));
    subs_[topic].sub = sub;
    if (added != nullptr) added->push_back({topic, 0});
  }
  return Status();
}

void EphemeralSubscriptions::UnsubscribeAll(std::vector<TopicPartition>* removed) {
  for (auto& [topic, sub] : subs_) {
    session_.Retire(sub.sub);
    if (removed != nullptr) removed->push_back({topic, 0});
  }
  subs_.clear();
}

void EphemeralSubscriptions::SetPaused(const std::string& topic, bool paused) {
  if (auto it = subs_.find(topic); it != subs_.end()) it->second.paused = paused;
}

void EphemeralSubscriptions::Take(std::vector<RecordPtr>& out, size_t max,
                                  std::chrono::milliseconds wait, SpareRecords& spare) {
  if (subs_.empty()) return;
  // Round-robin start, so that a busy topic cannot starve the others.
  auto it = subs_.begin();
  std::advance(it, static_cast<std::ptrdiff_t>(rr_++ % subs_.size()));
  for (size_t i = 0; i < subs_.size() && out.size() < max; ++i, ++it) {
    if (it == subs_.end()) it = subs_.begin();
    if (it->second.paused) continue;
    const bool first_waits = i == 0 && out.empty() && wait.count() > 0;
    int64_t timeout = first_waits ? wait.count() : 0;
    natsMsg* msg = nullptr;
    while (out.size() < max && natsSubscription_NextMsg(&msg, it->second.sub, timeout) == NATS_OK) {
      timeout = 0;
      std::shared_ptr<Record> r = spare.Take();
      r->topic.assign(it->first);
      r->partition = 0;
      r->offset = it->second.next_offset++;
      r->timestamp = std::chrono::system_clock::now();  // Core NATS carries no time
      if (const char* data = natsMsg_GetData(msg)) {
        r->payload.assign(data, static_cast<size_t>(natsMsg_GetDataLength(msg)));
      } else {
        r->payload.clear();
      }
      FillKeyAndHeaders(msg, *r);
      natsMsg_Destroy(msg);
      out.push_back(std::move(r));
    }
  }
}

}  // namespace evbus::transport::nats
