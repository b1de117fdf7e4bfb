// The chaos suite's accounting: what the producer had acknowledged, and what
// the consumer processes wrote to their logs (one line per handled event,
// "incarnation aggregate version", written with write(2) before the handler
// returned). From those: consumed, distinct, duplicates, lost (acknowledged
// and never handled: must be 0) and order violations.
//
// An order violation is an event an incarnation handles for the first time
// after it has already handled a later version of the same aggregate. A
// version it sees again (a replay from the last commit, after another
// member died) is a duplicate, not a violation; a version the producer never
// got acknowledged may be missing without one.

#ifndef EVBUS_TESTS_CHAOS_CHAOS_LEDGER_H_
#define EVBUS_TESTS_CHAOS_CHAOS_LEDGER_H_

#include <cstdint>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace evbus::chaos {

// An event of the run: message i is version i / aggregates + 1 of aggregate
// i % aggregates.
struct EventKey {
  int64_t aggregate = 0;
  int64_t version = 0;
  auto operator<=>(const EventKey&) const = default;
};

struct Counts {
  int64_t consumed = 0;  // log lines
  int64_t distinct = 0;  // distinct events among them
  int64_t duplicates = 0;
  int64_t lost = 0;  // acknowledged, never handled
  int64_t order_violations = 0;
  int64_t unacknowledged_seen = 0;    // handled although their publish failed
  std::vector<std::string> examples;  // a few lost or violating events, for the report
};

// Reads every log in `paths` and counts against `acknowledged`.
inline Counts Tally(const std::vector<std::string>& paths, const std::set<EventKey>& acknowledged) {
  Counts c;
  std::set<EventKey> seen;
  // Per incarnation: each aggregate's highest version and every event seen.
  std::map<int64_t, std::map<int64_t, int64_t>> highest;
  std::map<int64_t, std::set<EventKey>> seen_by;
  for (const std::string& path : paths) {
    FILE* f = std::fopen(path.c_str(), "r");
    if (f == nullptr) continue;
    long long inc = 0, agg = 0, version = 0;
    while (std::fscanf(f, "%lld %lld %lld", &inc, &agg, &version) == 3) {
      ++c.consumed;
      const EventKey k{agg, version};
      if (!seen.insert(k).second) ++c.duplicates;
      if (!seen_by[inc].insert(k).second) continue;  // a replay in this incarnation
      int64_t& top = highest[inc][agg];
      if (version < top) {
        if (++c.order_violations <= 3) {
          c.examples.push_back("incarnation " + std::to_string(inc) + ": aggregate " +
                               std::to_string(agg) + " version " + std::to_string(version) +
                               " after " + std::to_string(top));
        }
      } else {
        top = version;
      }
    }
    std::fclose(f);
  }
  c.distinct = static_cast<int64_t>(seen.size());
  for (const EventKey& k : acknowledged) {
    if (seen.count(k) == 0 && ++c.lost <= 3) {
      c.examples.push_back("lost: aggregate " + std::to_string(k.aggregate) + " version " +
                           std::to_string(k.version));
    }
  }
  for (const EventKey& k : seen) c.unacknowledged_seen += acknowledged.count(k) == 0 ? 1 : 0;
  return c;
}

}  // namespace evbus::chaos

#endif  // EVBUS_TESTS_CHAOS_CHAOS_LEDGER_H_
