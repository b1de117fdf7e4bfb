#include "transport/memory/memory_broker.h"

#include <algorithm>
#include <utility>

namespace evbus::transport {

std::shared_ptr<MemoryBroker> MemoryBroker::Named(const std::string& name, const Options& options) {
  static std::mutex registry_mu;
  static auto* registry = new std::map<std::string, std::weak_ptr<MemoryBroker>>();
  std::lock_guard<std::mutex> lock(registry_mu);
  std::weak_ptr<MemoryBroker>& slot = (*registry)[name];
  std::shared_ptr<MemoryBroker> broker = slot.lock();
  if (!broker) {
    broker = std::make_shared<MemoryBroker>(options);
    slot = broker;
  }
  return broker;
}

Status MemoryBroker::CreateTopic(const std::string& topic, int32_t partitions, bool ephemeral) {
  if (partitions == 0) partitions = options_.default_partitions;
  if (partitions < 1) {
    return InvalidArgument("topic " + topic + ": partitions must be >= 1, got " +
                           std::to_string(partitions));
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (topics_.count(topic) != 0) {
    return Status(ErrorCode::kAlreadyExists, "topic " + topic + " already exists");
  }
  topics_[topic].partitions.resize(static_cast<size_t>(partitions));
  topics_[topic].ephemeral = ephemeral;
  for (auto& [name, group] : groups_) RebalanceLocked(group);  // new partitions to assign
  NotifyLocked();
  return Status();
}

std::vector<TopicInfo> MemoryBroker::Topics() const {
  const std::string retention = std::to_string(options_.retention_records) + " records or " +
                                std::to_string(options_.retention_bytes) + " bytes per partition";
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<TopicInfo> out;
  for (const auto& [name, topic] : topics_) {
    out.push_back({name, static_cast<int32_t>(topic.partitions.size()), retention});
  }
  return out;
}

std::optional<int32_t> MemoryBroker::Partitions(const std::string& topic) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = topics_.find(topic);
  if (it == topics_.end()) return std::nullopt;
  return static_cast<int32_t>(it->second.partitions.size());
}

bool MemoryBroker::Ephemeral(const std::string& topic) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = topics_.find(topic);
  return it != topics_.end() && it->second.ephemeral;
}

MemoryBroker::Topic& MemoryBroker::GetOrCreateTopicLocked(const std::string& topic) {
  auto [it, inserted] = topics_.try_emplace(topic);
  if (inserted) {
    it->second.partitions.resize(static_cast<size_t>(options_.default_partitions));
    for (auto& [name, group] : groups_) RebalanceLocked(group);
  }
  return it->second;
}

Result<MemoryBroker::Appended> MemoryBroker::Append(Record&& record, bool create_missing) {
  const size_t size = record.payload.size() + record.key.size();
  auto stored = std::make_shared<Record>(std::move(record));  // allocated outside the lock
  stored->timestamp = std::chrono::system_clock::now();
  RecordPtr expired;  // the record retention drops, freed after the lock
  std::unique_lock<std::mutex> lock(mu_);
  auto it = topics_.find(stored->topic);
  if (it == topics_.end() && !create_missing) {
    return NotFound("topic " + stored->topic + " does not exist");
  }
  Topic& topic = it != topics_.end() ? it->second : GetOrCreateTopicLocked(stored->topic);
  const auto partitions = static_cast<int32_t>(topic.partitions.size());
  int32_t p;
  if (stored->partition >= 0) {  // chosen by the publisher
    if (stored->partition >= partitions) {
      return InvalidArgument("publish to " + stored->topic + ": partition " +
                             std::to_string(stored->partition) +
                             " is out of range: the topic has " + std::to_string(partitions) +
                             " partition(s), 0.." + std::to_string(partitions - 1));
    }
    p = stored->partition;
  } else if (stored->key.empty()) {
    random_state_ ^= random_state_ << 13;  // xorshift: cheap, fine for spreading keyless records
    random_state_ ^= random_state_ >> 7;
    random_state_ ^= random_state_ << 17;
    p = static_cast<int32_t>(random_state_ % static_cast<uint64_t>(partitions));
  } else {
    p = PartitionForKey(stored->key, partitions);
  }
  PartitionLog& log = topic.partitions[static_cast<size_t>(p)];
  const int64_t offset = log.end_offset();
  stored->partition = p;
  stored->offset = offset;
  log.records.push_back(std::move(stored));
  log.bytes += static_cast<int64_t>(size);
  while (static_cast<int64_t>(log.records.size()) > options_.retention_records ||
         (log.bytes > options_.retention_bytes && log.records.size() > 1)) {
    const Record& oldest = *log.records.front();
    log.bytes -= static_cast<int64_t>(oldest.payload.size() + oldest.key.size());
    expired = std::move(log.records.front());
    log.records.pop_front();
    ++log.start_offset;
  }
  // Woken after the unlock: a poller woken under the lock would only wake to
  // wait for it. Every publish can wake one, so this is the hot path.
  const bool wake = waiters_ > 0;
  lock.unlock();
  if (wake) cv_.notify_all();
  return Appended{p, offset};
}

Result<std::vector<RecordPtr>> MemoryBroker::Snapshot(const std::string& topic) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = topics_.find(topic);
  if (it == topics_.end()) return NotFound("memory topic " + topic + " does not exist");
  std::vector<RecordPtr> out;
  for (const PartitionLog& log : it->second.partitions) {
    out.insert(out.end(), log.records.begin(), log.records.end());
  }
  return out;
}

Result<int64_t> MemoryBroker::Purge(const std::string& topic) {
  std::vector<std::deque<RecordPtr>> removed;  // freed after the lock is released
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = topics_.find(topic);
    if (it == topics_.end()) return NotFound("memory topic " + topic + " does not exist");
    for (PartitionLog& log : it->second.partitions) {
      log.start_offset = log.end_offset();
      log.bytes = 0;
      removed.push_back(std::exchange(log.records, {}));
    }
  }
  int64_t count = 0;
  for (const std::deque<RecordPtr>& records : removed)
    count += static_cast<int64_t>(records.size());
  return count;
}

void MemoryBroker::NotifyLocked() {
  if (waiters_ > 0) cv_.notify_all();
}

MemoryBroker::MemberId MemoryBroker::Join(const std::string& group_name,
                                          const std::vector<std::string>& topics) {
  std::lock_guard<std::mutex> lock(mu_);
  Group& group = groups_[group_name];
  const MemberId id = next_member_++;
  group.members[id].topics = topics;
  RebalanceLocked(group);
  NotifyLocked();
  return id;
}

void MemoryBroker::SetTopics(const std::string& group_name, MemberId member,
                             const std::vector<std::string>& topics) {
  std::lock_guard<std::mutex> lock(mu_);
  Group& group = groups_[group_name];
  auto it = group.members.find(member);
  if (it == group.members.end()) return;
  it->second.topics = topics;
  RebalanceLocked(group);
  NotifyLocked();
}

void MemoryBroker::Leave(const std::string& group_name, MemberId member) {
  std::lock_guard<std::mutex> lock(mu_);
  Group& group = groups_[group_name];
  for (auto it = group.owner.begin(); it != group.owner.end();) {
    it = it->second == member ? group.owner.erase(it) : std::next(it);
  }
  group.members.erase(member);
  RebalanceLocked(group);
  NotifyLocked();
}

// Range assignment per topic over the members subscribed to it, in member-id
// order (the oldest member gets the first and, if uneven, the larger range).
void MemoryBroker::RebalanceLocked(Group& group) {
  ++group.generation;
  for (auto& [id, m] : group.members) m.target.clear();
  std::set<std::string> topics;
  for (auto& [id, m] : group.members) topics.insert(m.topics.begin(), m.topics.end());
  for (const std::string& name : topics) {
    auto t = topics_.find(name);
    if (t == topics_.end()) continue;
    std::vector<Member*> subscribed;
    for (auto& [id, m] : group.members) {
      if (std::find(m.topics.begin(), m.topics.end(), name) != m.topics.end()) {
        subscribed.push_back(&m);
      }
    }
    const auto n = static_cast<int32_t>(t->second.partitions.size());
    const auto count = static_cast<int32_t>(subscribed.size());
    const int32_t per = n / count;
    const int32_t extra = n % count;
    int32_t p = 0;
    for (int32_t i = 0; i < count; ++i) {
      const int32_t take = per + (i < extra ? 1 : 0);
      for (int32_t k = 0; k < take; ++k)
        subscribed[static_cast<size_t>(i)]->target.push_back({name, p++});
    }
  }
}

size_t MemoryBroker::FetchLocked(Group& group, Member& member, std::vector<RecordPtr>& out,
                                 size_t max) {
  (void)group;
  if (member.owned.empty()) return 0;
  std::vector<std::pair<const TopicPartition, int64_t>*> order;
  order.reserve(member.owned.size());
  for (auto& entry : member.owned) order.push_back(&entry);
  const size_t n = order.size();
  size_t fetched = 0;
  // Round-robin over partitions so a busy partition cannot starve the rest;
  // each gets an equal share of `max`.
  const size_t share = std::max<size_t>(1, max / n);
  for (size_t i = 0; i < n && fetched < max; ++i) {
    auto& [tp, position] = *order[(member.next_fetch + i) % n];
    if (member.paused.count(tp) != 0) continue;
    PartitionLog& log = topics_[tp.topic].partitions[static_cast<size_t>(tp.partition)];
    if (position < log.start_offset) {
      member.lost_records += log.start_offset - position;
      position = log.start_offset;
    }
    const size_t limit = std::min(share, max - fetched);
    for (size_t k = 0; k < limit && position < log.end_offset(); ++k) {
      out.push_back(log.records[static_cast<size_t>(position - log.start_offset)]);
      ++position;
      ++fetched;
    }
  }
  member.next_fetch = (member.next_fetch + 1) % n;
  return fetched;
}

MemoryBroker::Step MemoryBroker::PollStep(const std::string& group_name, MemberId id,
                                          std::vector<RecordPtr>& out, size_t max,
                                          std::chrono::steady_clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  Group& group = groups_[group_name];
  for (;;) {
    auto mit = group.members.find(id);
    if (mit == group.members.end()) return Step{StepKind::kTimeout, {}};
    Member& m = mit->second;
    // Eager protocol: a new generation revokes everything the member owns.
    if (m.generation_seen != group.generation) {
      if (!m.owned.empty()) {
        Step step{StepKind::kRevoke, {}};
        for (const auto& [tp, pos] : m.owned) step.partitions.push_back(tp);
        return step;
      }
      m.generation_seen = group.generation;
    }
    // Claim target partitions whose previous owner has released them.
    Step assigned{StepKind::kAssigned, {}};
    for (const TopicPartition& tp : m.target) {
      if (m.owned.count(tp) != 0 || group.owner.count(tp) != 0) continue;
      group.owner[tp] = id;
      const Topic& topic = topics_[tp.topic];
      const PartitionLog& log = topic.partitions[static_cast<size_t>(tp.partition)];
      auto c = group.committed.find(tp);
      m.owned[tp] = topic.ephemeral              ? log.end_offset()
                    : c != group.committed.end() ? std::max(c->second, log.start_offset)
                                                 : log.start_offset;  // auto_offset_reset earliest
      assigned.partitions.push_back(tp);
    }
    if (!assigned.partitions.empty()) return assigned;
    if (FetchLocked(group, m, out, max) > 0) return Step{StepKind::kRecords, {}};
    if (m.wakeup) {
      m.wakeup = false;
      return Step{StepKind::kWakeup, {}};
    }
    if (std::chrono::steady_clock::now() >= deadline) return Step{StepKind::kTimeout, {}};
    ++waiters_;
    cv_.wait_until(lock, deadline);
    --waiters_;
  }
}

void MemoryBroker::Release(const std::string& group_name, MemberId id,
                           const std::vector<TopicPartition>& tps) {
  std::lock_guard<std::mutex> lock(mu_);
  Group& group = groups_[group_name];
  auto mit = group.members.find(id);
  for (const TopicPartition& tp : tps) {
    auto o = group.owner.find(tp);
    if (o != group.owner.end() && o->second == id) group.owner.erase(o);
    if (mit != group.members.end()) {
      mit->second.owned.erase(tp);
      mit->second.paused.erase(tp);
    }
  }
  NotifyLocked();
}

void MemoryBroker::Wakeup(const std::string& group_name, MemberId id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto g = groups_.find(group_name);
  if (g == groups_.end()) return;
  auto m = g->second.members.find(id);
  if (m == g->second.members.end()) return;
  m->second.wakeup = true;
  cv_.notify_all();
}

void MemoryBroker::SetPaused(const std::string& group_name, MemberId id, const TopicPartition& tp,
                             bool paused) {
  std::lock_guard<std::mutex> lock(mu_);
  auto g = groups_.find(group_name);
  if (g == groups_.end()) return;
  auto m = g->second.members.find(id);
  if (m == g->second.members.end()) return;
  if (paused) {
    m->second.paused.insert(tp);
  } else if (m->second.paused.erase(tp) != 0) {
    NotifyLocked();
  }
}

Status MemoryBroker::Commit(const std::string& group_name, MemberId id,
                            const std::vector<CommitOffset>& offsets) {
  std::lock_guard<std::mutex> lock(mu_);
  Group& group = groups_[group_name];
  for (const CommitOffset& c : offsets) {
    auto o = group.owner.find(c.tp);
    if (o == group.owner.end() || o->second != id) {
      return FailedPrecondition("commit of " + ToString(c.tp) +
                                " by a member that does not own it");
    }
  }
  for (const CommitOffset& c : offsets) {
    if (!topics_[c.tp.topic].ephemeral) group.committed[c.tp] = c.next_offset;
  }
  return Status();
}

std::vector<PartitionLag> MemoryBroker::Lag(const std::string& group_name, MemberId id) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<PartitionLag> out;
  auto g = groups_.find(group_name);
  if (g == groups_.end()) return out;
  auto m = g->second.members.find(id);
  if (m == g->second.members.end()) return out;
  for (const auto& [tp, pos] : m->second.owned) {
    const Topic& topic = topics_.at(tp.topic);
    const PartitionLog& log = topic.partitions[static_cast<size_t>(tp.partition)];
    PartitionLag lag{tp, log.end_offset(), -1, 0};
    auto c = g->second.committed.find(tp);
    if (c != g->second.committed.end()) lag.committed = c->second;
    // An ephemeral topic owes nothing to a reader: it reads from the end.
    lag.lag = topic.ephemeral ? 0 : log.end_offset() - std::max(lag.committed, log.start_offset);
    out.push_back(lag);
  }
  return out;
}

int64_t MemoryBroker::Committed(const std::string& group_name, const TopicPartition& tp) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto g = groups_.find(group_name);
  if (g == groups_.end()) return -1;
  auto c = g->second.committed.find(tp);
  return c == g->second.committed.end() ? -1 : c->second;
}

int64_t MemoryBroker::TakeLostRecords(const std::string& group_name, MemberId id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto g = groups_.find(group_name);
  if (g == groups_.end()) return 0;
  auto m = g->second.members.find(id);
  return m == g->second.members.end() ? 0 : std::exchange(m->second.lost_records, 0);
}

}  // namespace evbus::transport
