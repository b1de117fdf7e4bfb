#include "core/lane_scheduler.h"

#include <algorithm>
#include <functional>

namespace evbus::core {
namespace {

// How many messages of one lane a worker takes per turn: enough to amortise
// the lock, few enough that other lanes get their turn.
constexpr int kMaxRunPerTurn = 64;

size_t Mix(size_t seed, size_t h) {  // boost::hash_combine's mixing
  return seed ^ (h + 0x9E3779B97F4A7C15ULL + (seed << 6) + (seed >> 2));
}

}  // namespace

LaneScheduler::Unit LaneScheduler::Unit::Key(std::string_view topic, std::string_view key) {
  Unit u;
  u.kind = Kind::kKey;
  u.topic = topic;
  u.key = key;
  u.hash = Mix(std::hash<std::string_view>{}(key), std::hash<std::string_view>{}(topic));
  return u;
}

LaneScheduler::Unit LaneScheduler::Unit::Partition(std::string_view topic, int32_t partition) {
  Unit u;
  u.kind = Kind::kPartition;
  u.topic = topic;
  u.partition = partition;
  u.hash = Mix(std::hash<std::string_view>{}(topic),
               static_cast<size_t>(static_cast<uint32_t>(partition)) * 0x9E3779B97F4A7C15ULL);
  return u;
}

LaneScheduler::LaneScheduler(uint32_t lanes) : lanes_(std::max<uint32_t>(1, lanes)) {
  free_.reserve(lanes_.size());
  // Popped from the back: slot 0 is handed out first.
  for (size_t i = lanes_.size(); i > 0; --i) free_.push_back(static_cast<uint32_t>(i - 1));
  index_.reserve(lanes_.size());
}

uint32_t LaneScheduler::LaneOfLocked(const Unit& unit) {
  if (unit.kind != Unit::Kind::kOwn) {
    auto it = index_.find(unit);
    if (it != index_.end()) return it->second;
  }
  uint32_t index;
  if (!free_.empty()) {
    index = free_.back();
    free_.pop_back();
  } else {  // more units live at once than ever before: grow the slab
    index = static_cast<uint32_t>(lanes_.size());
    lanes_.emplace_back();
  }
  Lane& lane = lanes_[index];
  lane.kind = unit.kind;
  lane.partition = unit.partition;
  lane.hash = unit.hash;
  if (unit.kind != Unit::Kind::kOwn) {
    lane.topic.assign(unit.topic);  // reuses the slot's capacity
    lane.key.assign(unit.key);
    Unit own = unit;  // the index's key views the lane's own copies
    own.topic = lane.topic;
    own.key = lane.key;
    index_.emplace(own, index);
  }
  return index;
}

void LaneScheduler::FreeLocked(uint32_t index) {
  Lane& lane = lanes_[index];
  if (lane.kind != Unit::Kind::kOwn) {
    Unit unit;
    unit.kind = lane.kind;
    unit.partition = lane.partition;
    unit.topic = lane.topic;
    unit.key = lane.key;
    unit.hash = lane.hash;
    index_.erase(unit);
  }
  lane.head = lane.tail = nullptr;
  lane.state = State::kIdle;
  lane.head_busy = false;
  lane.kind = Unit::Kind::kOwn;
  free_.push_back(index);
}

void LaneScheduler::ScheduleLocked(uint32_t lane) {
  lanes_[lane].state = State::kReady;
  ready_.push_back(lane);
}

void LaneScheduler::Enqueue(const std::vector<std::pair<Unit, InFlight*>>& batch) {
  size_t newly_ready = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [unit, m] : batch) {
      const uint32_t index = LaneOfLocked(unit);
      Lane& lane = lanes_[index];
      m->next = nullptr;
      if (lane.tail != nullptr) {
        lane.tail->next = m;
      } else {
        lane.head = m;
      }
      lane.tail = m;
      if (lane.state == State::kIdle) {  // new
        ScheduleLocked(index);
        ++newly_ready;
      }
    }
  }
  if (newly_ready == 1) {
    work_cv_.notify_one();
  } else if (newly_ready > 1) {
    work_cv_.notify_all();
  }
}

bool LaneScheduler::Take(std::vector<Taken>& out, size_t max_lanes) {
  std::unique_lock<std::mutex> lock(mu_);
  ++idle_workers_;
  work_cv_.wait(lock, [&] { return !ready_.empty() || stopping_; });
  --idle_workers_;
  if (ready_.empty()) return false;  // stopping
  // Share the ready lanes with the workers that are idle too.
  const size_t share = std::max<size_t>(1, ready_.size() / static_cast<size_t>(idle_workers_ + 1));
  const size_t n = std::min({max_lanes, share, ready_.size()});
  for (size_t i = 0; i < n; ++i) {
    const uint32_t index = ready_.front();
    ready_.pop_front();
    Lane& lane = lanes_[index];
    InFlight* head = lane.head;
    InFlight* tail = head;
    for (int k = 1; k < kMaxRunPerTurn && tail->next != nullptr; ++k) tail = tail->next;
    lane.head = tail->next;
    if (lane.head == nullptr) lane.tail = nullptr;
    tail->next = nullptr;
    lane.state = State::kRunning;
    ++running_;
    out.push_back(Taken{index, head, tail});
  }
  return true;
}

bool LaneScheduler::ReturnWaiting(uint32_t index, InFlight* rest, InFlight* rest_tail,
                                  bool dead_letter_head, std::vector<InFlight*>& dropped) {
  bool notify_quiet = false;
  bool kept;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Lane& lane = lanes_[index];
    --running_;
    kept = !abandoning_;
    if (abandoning_) {
      for (InFlight* m = rest; m != nullptr; m = m->next) dropped.push_back(m);
      for (InFlight* m = lane.head; m != nullptr; m = m->next) dropped.push_back(m);
      FreeLocked(index);
    } else {
      rest_tail->next = lane.head;  // the unprocessed run goes back in front, in order
      lane.head = rest;
      if (lane.tail == nullptr) lane.tail = rest_tail;
      lane.state = State::kWaiting;
      ++waiting_;
      if (dead_letter_head) {
        lane.head_busy = true;
        ++dead_letters_in_progress_;
      }
    }
    notify_quiet = QuietLocked();
  }
  if (notify_quiet) quiet_cv_.notify_all();
  return kept;
}

void LaneScheduler::ReturnCompleted(const std::vector<uint32_t>& indices,
                                    std::vector<InFlight*>& dropped) {
  size_t newly_ready = 0;
  bool notify_quiet;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (uint32_t index : indices) {
      Lane& lane = lanes_[index];
      --running_;
      if (abandoning_) {
        for (InFlight* m = lane.head; m != nullptr; m = m->next) dropped.push_back(m);
        FreeLocked(index);
      } else if (lane.head != nullptr) {
        ScheduleLocked(index);
        ++newly_ready;
      } else {
        FreeLocked(index);
      }
    }
    notify_quiet = QuietLocked();
  }
  if (newly_ready == 1) {
    work_cv_.notify_one();
  } else if (newly_ready > 1) {
    work_cv_.notify_all();
  }
  if (notify_quiet) quiet_cv_.notify_all();
}

void LaneScheduler::MakeReady(uint32_t index) {
  bool notify_worker = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Lane& lane = lanes_[index];
    if (lane.state != State::kWaiting || draining_) return;  // draining: stays parked
    --waiting_;
    if (lane.head != nullptr) {
      ScheduleLocked(index);
      notify_worker = true;
    } else {
      FreeLocked(index);
    }
  }
  if (notify_worker) work_cv_.notify_one();
}

InFlight* LaneScheduler::DeadLetterSucceeded(uint32_t index) {
  InFlight* head;
  bool notify_worker = false;
  bool notify_quiet;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Lane& lane = lanes_[index];
    lane.head_busy = false;
    --dead_letters_in_progress_;
    head = lane.head;
    lane.head = head->next;
    if (lane.head == nullptr) lane.tail = nullptr;
    head->next = nullptr;
    if (lane.state == State::kWaiting) --waiting_;
    if (lane.head != nullptr && !abandoning_ && !draining_) {
      ScheduleLocked(index);
      notify_worker = true;
    } else if (lane.head != nullptr) {
      lane.state = State::kWaiting;  // draining: parked until abandoned
      ++waiting_;
    } else {
      FreeLocked(index);
    }
    notify_quiet = QuietLocked();
  }
  if (notify_worker) work_cv_.notify_one();
  if (notify_quiet) quiet_cv_.notify_all();
  return head;
}

InFlight* LaneScheduler::DeadLetterFailed(uint32_t index) {
  InFlight* head = nullptr;
  bool notify_quiet;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Lane& lane = lanes_[index];
    lane.head_busy = false;
    --dead_letters_in_progress_;
    if (abandoning_) {
      // AbandonAll kept only the head, and counted the lane as waiting.
      head = lane.head;
      head->next = nullptr;
      if (lane.state == State::kWaiting) --waiting_;
      FreeLocked(index);
    }
    notify_quiet = QuietLocked();
  }
  if (notify_quiet) quiet_cv_.notify_all();
  return head;
}

bool LaneScheduler::abandoning() const {
  std::lock_guard<std::mutex> lock(mu_);
  return abandoning_;
}

bool LaneScheduler::QuietLocked() const {
  return ready_.empty() && running_ == 0 && dead_letters_in_progress_ == 0;
}

bool LaneScheduler::WaitQuiet(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  return quiet_cv_.wait_until(lock, deadline, [&] { return QuietLocked(); });
}

void LaneScheduler::SetDraining() {
  std::lock_guard<std::mutex> lock(mu_);
  draining_ = true;
}

bool LaneScheduler::draining() const {
  std::lock_guard<std::mutex> lock(mu_);
  return draining_;
}

std::vector<InFlight*> LaneScheduler::AbandonAll() {
  std::vector<InFlight*> dropped;
  std::unique_lock<std::mutex> lock(mu_);
  abandoning_ = true;
  draining_ = true;
  ready_.clear();
  int busy = 0;
  for (uint32_t index = 0; index < lanes_.size(); ++index) {
    Lane& lane = lanes_[index];
    if (lane.state == State::kIdle) continue;     // free
    if (lane.state == State::kRunning) continue;  // its worker drops the rest on Return
    if (lane.head_busy) {
      // Keep the head: its dead-letter publish completes it.
      for (InFlight* m = lane.head->next; m != nullptr; m = m->next) dropped.push_back(m);
      lane.head->next = nullptr;
      lane.tail = lane.head;
      ++busy;
      continue;
    }
    for (InFlight* m = lane.head; m != nullptr; m = m->next) dropped.push_back(m);
    FreeLocked(index);
  }
  waiting_ = busy;
  // Workers finish the handler they are in (they see the cancel token), then return.
  quiet_cv_.wait(lock, [&] { return running_ == 0; });
  return dropped;
}

void LaneScheduler::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
}

int LaneScheduler::waiting_lanes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return waiting_;
}

size_t LaneScheduler::live_lanes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lanes_.size() - free_.size();
}

size_t LaneScheduler::lane_slots() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lanes_.size();
}

}  // namespace evbus::core
