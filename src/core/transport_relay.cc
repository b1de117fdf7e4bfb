#include "core/transport_relay.h"

#include <string>
#include <utility>

namespace evbus::core {

void TransportRelay::Error(const Status& status) {
  std::unique_lock<std::mutex> lock(mu_);
  if (open_) {
    lock.unlock();
    targets_.error(status);  // targets_ no longer changes once open
    return;
  }
  if (held_errors_.size() < kHeldErrors) {
    held_errors_.push_back(status);
  } else {
    ++dropped_errors_;
  }
}

void TransportRelay::Connection(bool connected, const Status& reason) {
  std::unique_lock<std::mutex> lock(mu_);
  if (open_) {
    lock.unlock();
    targets_.connection(connected, reason);
    return;
  }
  // Transports report changes only, so a held change is relative to the
  // last state handed over: a change back cancels it (down then up again
  // before anyone listened is no change).
  if (held_change_ && held_change_->connected != connected) {
    held_change_.reset();
    return;
  }
  held_change_ = ConnectionChange{connected, reason};
}

void TransportRelay::TakeHeldLocked(std::vector<Status>& errors,
                                    std::optional<ConnectionChange>& change) {
  errors = std::move(held_errors_);
  held_errors_.clear();
  if (dropped_errors_ > 0) {
    errors.push_back(Status(errors.empty() ? ErrorCode::kUnavailable : errors.back().code(),
                            "and " + std::to_string(dropped_errors_) +
                                " more transport errors before the bus started"));
    dropped_errors_ = 0;
  }
  change = std::move(held_change_);
  held_change_.reset();
}

void TransportRelay::Open(Targets targets) {
  std::unique_lock<std::mutex> lock(mu_);
  if (open_ || opening_) return;
  targets_ = std::move(targets);
  opening_ = true;
  // Reports that arrive while the held ones are handed over are held too,
  // and handed over in the next round, so the order is kept.
  for (;;) {
    std::vector<Status> errors;
    std::optional<ConnectionChange> change;
    TakeHeldLocked(errors, change);
    if (errors.empty() && !change) break;
    lock.unlock();
    for (const Status& e : errors) targets_.error(e);
    if (change) targets_.connection(change->connected, change->reason);
    lock.lock();
  }
  opening_ = false;
  open_ = true;
}

}  // namespace evbus::core
