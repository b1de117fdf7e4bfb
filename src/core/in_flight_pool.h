// InFlightPool: reuses the engine's per-message objects.
//
// The polling thread makes an InFlight per record and a worker ends it: a
// malloc on one thread and a free on another for every message, plus the
// transport's allocations for the record's strings. The pool takes ended
// messages back in batches and hands them out again; a record nobody else
// holds (use_count 1: not shared with an in-process broker) is kept as a
// spare, which the transport refills in place, so its strings keep their
// capacity and a warm consumer allocates little per message.
//
// Bounds: at most kMaxKept messages and kMaxSpareRecords records are kept
// (the rest are freed), and no record holding more than kMaxRecordBytes.
//
// Thread safety: New and TakeSpareRecords from the polling thread only;
// Recycle from any thread.

#ifndef EVBUS_CORE_IN_FLIGHT_POOL_H_
#define EVBUS_CORE_IN_FLIGHT_POOL_H_

#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

#include "core/in_flight.h"

namespace evbus::core {

class InFlightPool {
 public:
  static constexpr size_t kMaxKept = 4096;
  static constexpr size_t kMaxSpareRecords = 1024;
  static constexpr size_t kMaxRecordBytes = 8 * 1024;

  InFlightPool() = default;
  InFlightPool(const InFlightPool&) = delete;
  InFlightPool& operator=(const InFlightPool&) = delete;
  ~InFlightPool();

  // A cleared InFlight. Polling thread.
  InFlight* New();
  // Moves the spare records into `out` (appends). Polling thread.
  void TakeSpareRecords(std::vector<std::shared_ptr<Record>>& out);
  // Takes ended messages back (clears `done`). Any thread.
  void Recycle(std::vector<InFlight*>& done);
  void Recycle(InFlight* done);

 private:
  // Clears `m`, moving its record to `spares` if it is worth keeping.
  static void Clear(InFlight& m, std::vector<std::shared_ptr<Record>>& spares);

  std::mutex mu_;
  std::vector<InFlight*> free_;                         // guarded by mu_
  std::vector<std::shared_ptr<Record>> spare_records_;  // guarded by mu_
  std::vector<InFlight*> local_;                        // polling thread's share
};

}  // namespace evbus::core

#endif  // EVBUS_CORE_IN_FLIGHT_POOL_H_
