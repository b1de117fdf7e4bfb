// Thread census: which threads the process has, and who owns each.
//
// Every thread evbus starts is named (at most 15 characters, e.g. "evb-work-3")
// and registered with its owner component and bus id. Client-library threads
// (librdkafka, cnats) are registered by their transports. TakeCensus() reads
// /proc/self/task, so a thread nobody registered still shows, as "unknown".
//
// Thread safety: TakeCensus() may be called from any thread at any time.

#ifndef EVBUS_CENSUS_H_
#define EVBUS_CENSUS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "evbus/export.h"

namespace evbus {

struct ThreadInfo {
  int tid = 0;
  std::string name;       // the kernel's name (comm)
  std::string component;  // owner: "worker-pool", "consumer", "retry-timer", "librdkafka", ...
                          // "main" for the process's first thread, "unknown" if unregistered
  uint64_t bus_id = 0;    // the owning bus; 0 when not owned by a bus
};

struct EVBUS_EXPORT Census {
  std::vector<ThreadInfo> threads;  // ordered by tid

  size_t total() const { return threads.size(); }
  // Threads owned by `bus_id` (evbus threads and its client-library threads).
  size_t CountForBus(uint64_t bus_id) const;
  // Thread count per component, e.g. {"main": 1, "worker-pool": 2, ...}.
  std::map<std::string, size_t> ByComponent() const;
  // A table, one row per component, for people.
  std::string ToTable() const;
};

// Reads /proc/self/task now, joined with the registry of known threads.
EVBUS_EXPORT Census TakeCensus();

// Number of threads in this process right now (/proc/self/task entries).
EVBUS_EXPORT size_t CountProcessThreads();

}  // namespace evbus

#endif  // EVBUS_CENSUS_H_
