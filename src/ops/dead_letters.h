// Dead letters (evbus dlq): listing, replaying and purging a dead-letter
// topic over the transport interface, so one implementation serves Kafka,
// NATS and the memory broker, and tests run it in-process.
//
// What a dead letter is (the engine writes it, src/core/dispatcher.cc): the
// failed record's key, payload and headers, plus X-Original-Topic,
// X-Original-Partition, X-Original-Offset, X-Error, X-Attempts and
// X-Failed-At (RFC 3339, UTC). Reading never disturbs anyone:
// Transport::ReadTopic uses no consumer group and leaves nothing behind.
// Replay does not remove what it replays; PurgeTopic does.
//
// Thread safety: the functions are reentrant; each runs its callbacks on the
// calling thread.

#ifndef EVBUS_OPS_DEAD_LETTERS_H_
#define EVBUS_OPS_DEAD_LETTERS_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "evbus/record.h"
#include "evbus/status.h"
#include "transport/transport.h"

namespace evbus::ops {

using SystemTime = std::chrono::system_clock::time_point;

// The headers the engine adds to a dead letter; a replay leaves them out.
inline constexpr std::string_view kDeadLetterHeaders[] = {
    "X-Original-Topic", "X-Original-Partition", "X-Original-Offset",
    "X-Error",          "X-Attempts",           "X-Failed-At"};

struct DeadLetter {
  Record record;                  // as stored in the dead-letter topic (partition, offset there)
  std::string origin_topic;       // X-Original-Topic; empty when missing
  int32_t origin_partition = -1;  // X-Original-Partition; -1 when missing
  int64_t origin_offset = -1;     // X-Original-Offset; -1 when missing
  std::string error;              // X-Error
  int attempts = 0;               // X-Attempts: handler attempts made (0: poison, or missing)
  SystemTime failed_at{};         // X-Failed-At, or the record's time when missing
  std::string event_id;           // X-Event-ID / X-Event-Type: empty unless an envelope
  std::string event_type;
};

// Reads the dead-letter headers of `record` (missing ones stay unset).
DeadLetter ParseDeadLetter(const Record& record);

// Which dead letters a command takes. Build with DeadLetterFilter::Make.
class DeadLetterFilter {
 public:
  // `error`: matched against X-Error as a substring, or as an ECMAScript
  // regular expression searched for (text that is no valid expression is a
  // substring only); empty takes every error. `since` / `until`: the dead
  // letter's failed_at is >= since and < until. `limit` > 0: at most that many.
  static DeadLetterFilter Make(const std::string& error, std::optional<SystemTime> since,
                               std::optional<SystemTime> until, int64_t limit);
  DeadLetterFilter() = default;  // takes everything

  bool Matches(const DeadLetter& d) const;
  int64_t limit() const { return limit_; }

 private:
  std::string error_;
  std::shared_ptr<const std::regex> regex_;  // null when error_ is no valid expression
  std::optional<SystemTime> since_;
  std::optional<SystemTime> until_;
  int64_t limit_ = 0;
};

// The time a --since/--until flag names: RFC 3339 ("2025-06-01T12:00:00Z"),
// or a duration before `now` ("90m", "1h30m", "2.5h").
// Errors: InvalidArgument naming `flag` and the text.
Result<SystemTime> ParseTimeBound(std::string_view flag, std::string_view text, SystemTime now);

// (records read so far, records the read covers in all)
using ProgressFn = std::function<void(int64_t read, int64_t total)>;

// Reads `topic` whole and hands each dead letter `filter` takes to `visit`
// (false stops), up to its limit. Returns how many it handed over.
// Errors: those of Transport::ReadTopic.
Result<int64_t> ForEachDeadLetter(transport::Transport& transport, const std::string& topic,
                                  const DeadLetterFilter& filter,
                                  const std::function<bool(const DeadLetter&)>& visit,
                                  const ProgressFn& progress = nullptr);

// What a replay republishes for `d`: to `target`, with its key, payload and
// original headers (traceparent, X-Event-ID, ...) minus kDeadLetterHeaders.
Record ReplayRecord(const DeadLetter& d, const std::string& target);

struct ReplayOptions {
  DeadLetterFilter filter;
  std::string to;        // empty: each dead letter's origin topic (X-Original-Topic)
  bool dry_run = false;  // hand each one to on_each; publish nothing
  // How long, after the last publish, to wait for every acknowledgement.
  std::chrono::milliseconds ack_timeout = std::chrono::seconds(30);
  // Each dead letter taken, with where it goes, before it is published.
  std::function<void(const DeadLetter&, const std::string& target)> on_each;
  ProgressFn progress;
};

struct ReplayReport {
  int64_t matched = 0;    // taken by the filter
  int64_t published = 0;  // acknowledged by the broker
  int64_t failed = 0;     // refused, not acknowledged, or with nowhere to go
  // The first failures, each naming the dead letter (topic[partition]@offset) and why.
  std::vector<std::string> failures;
};

// Republishes the dead letters of `dlq_topic` that options.filter takes, in
// the order they were read, and waits for every acknowledgement. A dead
// letter without X-Original-Topic and no options.to fails (by name). On NATS
// each replay gets a message id of its own, so JetStream's duplicate window
// does not drop a replay of an event it saw recently.
// Errors: those of ReadTopic and CreateProducer; failed publishes are not
// errors but counted (and named) in the report.
Result<ReplayReport> ReplayDeadLetters(transport::Transport& transport,
                                       const std::string& dlq_topic, const ReplayOptions& options);

}  // namespace evbus::ops

#endif  // EVBUS_OPS_DEAD_LETTERS_H_
