#include "cli/census_table.h"

#include <cstdio>
#include <map>
#include <set>

namespace evbus::cli {

void PrintCensusTable(const std::vector<Phase>& phases) {
  std::map<std::string, std::vector<size_t>> rows;
  for (size_t i = 0; i < phases.size(); ++i) {
    for (const auto& [component, count] : phases[i].census.ByComponent()) {
      auto& row = rows[component];
      row.resize(phases.size());
      row[i] = count;
    }
  }
  std::printf("\nthread census (threads by owner at each phase)\n%-14s", "owner");
  for (const Phase& p : phases) std::printf(" %10s", p.name.c_str());
  std::printf("\n");
  for (auto& [component, counts] : rows) {
    counts.resize(phases.size());
    std::printf("%-14s", component.c_str());
    for (size_t c : counts) std::printf(" %10zu", c);
    std::printf("\n");
  }
  std::printf("%-14s", "total");
  for (const Phase& p : phases) std::printf(" %10zu", p.census.total());
  std::printf("\n");
}

std::vector<ThreadInfo> LeakedThreads(const std::vector<Phase>& phases) {
  std::vector<ThreadInfo> leaked;
  if (phases.empty()) return leaked;
  std::set<int> before;
  for (const ThreadInfo& t : phases.front().census.threads) before.insert(t.tid);
  for (const ThreadInfo& t : phases.back().census.threads) {
    if (before.count(t.tid) == 0) leaked.push_back(t);
  }
  return leaked;
}

}  // namespace evbus::cli
