// The thread census of a workload's lifecycle phases, for people: threads by
// owner at each phase, and the threads the run left behind.

#ifndef EVBUS_CLI_CENSUS_TABLE_H_
#define EVBUS_CLI_CENSUS_TABLE_H_

#include <vector>

#include "cli/workload.h"

namespace evbus::cli {

// Prints one row per owner and one column per phase, then the totals.
void PrintCensusTable(const std::vector<Phase>& phases);

// Threads in the last phase that were not in the first (by tid).
std::vector<ThreadInfo> LeakedThreads(const std::vector<Phase>& phases);

}  // namespace evbus::cli

#endif  // EVBUS_CLI_CENSUS_TABLE_H_
