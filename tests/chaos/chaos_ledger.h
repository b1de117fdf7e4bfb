// The chaos suite's accounting: what the producer had acknowledged, and what
// the consumer processes wrote to their logs (one line per handled event,
// "incarnation aggregate version monotonic-ns", written with write(2) before
// the handler returned). From those: consumed, distinct, duplicates, lost
// (acknowledged and never handled: must be 0) and order violations.
//
// An order violation is a version of an aggregate handled for the first time
// (by any process) after a later version of it was first handled: one event
// overtaking an earlier one. Handling an event again (a replay from the last
// commit after a member died, or after a server restart lost recent acks) is
// a duplicate, not a violation, even if a later version came in between; a
// version the producer never got acknowledged may be missing without one.

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

// Reads every log in `paths` and counts against `acknowledged`; with
// `first_ns`, also when each event was first handled (monotonic ns).
inline Counts Tally(const std::vector<std::string>& paths, const std::set<EventKey>& acknowledged,
                    std::map<EventKey, int64_t>* first_ns = nullptr) {
  Counts c;
  // Each event's first handling (monotonic ns), and by whom.
  std::map<EventKey, std::pair<int64_t, int64_t>> first;
  for (const std::string& path : paths) {
    FILE* f = std::fopen(path.c_str(), "r");
    if (f == nullptr) continue;
    long long inc = 0, agg = 0, version = 0, at = 0;
    while (std::fscanf(f, "%lld %lld %lld %lld", &inc, &agg, &version, &at) == 4) {
      ++c.consumed;
      auto [it, fresh] = first.try_emplace(EventKey{agg, version}, at, inc);
      if (!fresh) {
        ++c.duplicates;
        if (at < it->second.first) it->second = {at, inc};
      }
    }
    std::fclose(f);
  }
  std::set<EventKey> seen;
  for (const auto& [k, when] : first) seen.insert(seen.end(), k);
  // Per aggregate, from its highest version down: the earliest first
  // handling of any later version; a version first handled after that was
  // overtaken.
  int64_t aggregate = -1;
  std::pair<int64_t, int64_t> earliest_later{0, 0};
  for (auto it = first.rbegin(); it != first.rend(); ++it) {
    const EventKey& k = it->first;
    if (k.aggregate != aggregate) {
      aggregate = k.aggregate;
      earliest_later = it->second;
      continue;
    }
    if (it->second.first > earliest_later.first) {
      if (++c.order_violations <= 3) {
        c.examples.push_back(
            "aggregate " + std::to_string(k.aggregate) + " version " + std::to_string(k.version) +
            " first handled (incarnation " + std::to_string(it->second.second) +
            ") after a later version (incarnation " + std::to_string(earliest_later.second) + ")");
      }
    } else {
      earliest_later = it->second;
    }
  }
  c.distinct = static_cast<int64_t>(seen.size());
  if (first_ns != nullptr) {
    first_ns->clear();
    for (const auto& [k, when] : first) first_ns->emplace_hint(first_ns->end(), k, when.first);
  }
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
