#include "core/in_flight_pool.h"

#include <utility>

namespace evbus::core {
namespace {

size_t HeldBytes(const Record& r) {
  size_t bytes = r.topic.capacity() + r.key.capacity() + r.payload.capacity();
  for (const Header& h : r.headers) bytes += h.key.capacity() + h.value.capacity();
  return bytes;
}

}  // namespace

InFlightPool::~InFlightPool() {
  for (InFlight* m : local_) delete m;
  for (InFlight* m : free_) delete m;
}

InFlight* InFlightPool::New() {
  if (local_.empty()) {
    std::lock_guard<std::mutex> lock(mu_);
    local_.swap(free_);
  }
  if (local_.empty()) return new InFlight();
  InFlight* m = local_.back();
  local_.pop_back();
  return m;
}

void InFlightPool::TakeSpareRecords(std::vector<std::shared_ptr<Record>>& out) {
  std::lock_guard<std::mutex> lock(mu_);
  if (out.empty()) {
    out.swap(spare_records_);
    return;
  }
  for (auto& r : spare_records_) out.push_back(std::move(r));
  spare_records_.clear();
}

void InFlightPool::Clear(InFlight& m, std::vector<std::shared_ptr<Record>>& spares) {
  // use_count 1: this message holds the only reference, and nobody can take
  // another, so the record is ours to rewrite. It was made mutable by the
  // transport and only handed out as const.
  if (m.record && m.record.use_count() == 1 && HeldBytes(*m.record) <= kMaxRecordBytes) {
    spares.push_back(std::const_pointer_cast<Record>(std::move(m.record)));
  }
  m = InFlight();
}

void InFlightPool::Recycle(std::vector<InFlight*>& done) {
  if (done.empty()) return;
  // Per thread and reused: a vector per worker turn would be the very
  // allocation this pool exists to avoid.
  thread_local std::vector<std::shared_ptr<Record>> spares;
  for (InFlight* m : done) Clear(*m, spares);  // off-lock: may free records
  std::vector<InFlight*> surplus;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (InFlight* m : done) {
      if (free_.size() < kMaxKept) {
        free_.push_back(m);
      } else {
        surplus.push_back(m);
      }
    }
    for (auto& r : spares) {
      if (spare_records_.size() >= kMaxSpareRecords) break;
      spare_records_.push_back(std::move(r));
    }
  }
  for (InFlight* m : surplus) delete m;
  done.clear();
  spares.clear();  // frees what did not fit in spare_records_, off-lock
}

void InFlightPool::Recycle(InFlight* done) {
  std::vector<InFlight*> one{done};
  Recycle(one);
}

}  // namespace evbus::core
