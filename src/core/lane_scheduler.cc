#include "core/lane_scheduler.h"

#include <algorithm>

namespace evbus::core {
namespace {

// How many messages of one lane a worker takes per turn: enough to amortise
// the lock, few enough that other lanes get their turn.
constexpr int kMaxRunPerTurn = 64;

}  // namespace

LaneScheduler::LaneScheduler(uint32_t lanes) : lanes_(lanes) {}

void LaneScheduler::ScheduleLocked(uint32_t lane) {
  lanes_[lane].state = State::kReady;
  ready_.push_back(lane);
}

void LaneScheduler::Enqueue(const std::vector<std::pair<uint32_t, InFlight*>>& batch) {
  size_t newly_ready = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [index, m] : batch) {
      Lane& lane = lanes_[index];
      m->next = nullptr;
      if (lane.tail != nullptr) {
        lane.tail->next = m;
      } else {
        lane.head = m;
      }
      lane.tail = m;
      if (lane.state == State::kIdle) {
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
      lane.head = lane.tail = nullptr;
      lane.state = State::kIdle;
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
        lane.head = lane.tail = nullptr;
        lane.state = State::kIdle;
      } else if (lane.head != nullptr) {
        ScheduleLocked(index);
        ++newly_ready;
      } else {
        lane.state = State::kIdle;
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
  {
    std::lock_guard<std::mutex> lock(mu_);
    Lane& lane = lanes_[index];
    if (lane.state != State::kWaiting || draining_) return;  // draining: stays parked
    --waiting_;
    if (lane.head != nullptr) {
      ScheduleLocked(index);
    } else {
      lane.state = State::kIdle;
    }
  }
  work_cv_.notify_one();
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
      lane.state = State::kIdle;
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
      head = lane.head;
      lane.head = lane.tail = nullptr;
      lane.state = State::kIdle;
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
  for (Lane& lane : lanes_) {
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
    lane.head = lane.tail = nullptr;
    lane.state = State::kIdle;
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

}  // namespace evbus::core
