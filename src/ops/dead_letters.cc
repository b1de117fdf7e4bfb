#include "ops/dead_letters.h"

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <mutex>

#include "config/config_fields.h"
#include "evbus/envelope.h"

namespace evbus::ops {
namespace {

// Publishes not yet acknowledged, at most; more wait for acknowledgements.
constexpr int64_t kMaxInFlight = 1000;
// Failures named in a report; the rest are only counted.
constexpr size_t kMaxNamedFailures = 10;

template <typename T>
bool ParseNumber(std::string_view text, T& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

std::string Position(const Record& r) {
  return r.topic + "[" + std::to_string(r.partition) + "]@" + std::to_string(r.offset);
}

bool IsDeadLetterHeader(std::string_view key) {
  return std::find(std::begin(kDeadLetterHeaders), std::end(kDeadLetterHeaders), key) !=
         std::end(kDeadLetterHeaders);
}

// The replay's acknowledgements, counted as they come (on transport threads).
class Acks {
 public:
  void Sent() {
    std::lock_guard<std::mutex> lock(mu_);
    ++in_flight_;
  }
  void Done(const Status& status, const std::string& what) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      --in_flight_;
      if (status.ok()) {
        ++report_.published;
      } else {
        Fail(what, status.ToString());
      }
    }
    cv_.notify_all();
  }
  // A Sent() whose publish the producer did not accept: no callback comes.
  void Unsent() {
    std::lock_guard<std::mutex> lock(mu_);
    --in_flight_;
  }
  // Counts a dead letter that was never handed to the producer.
  void Refused(const std::string& what, const std::string& why) {
    std::lock_guard<std::mutex> lock(mu_);
    Fail(what, why);
  }
  // Waits until fewer than `n` are in flight, or `deadline`.
  bool WaitBelow(int64_t n, transport::Clock::time_point deadline) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_until(lock, deadline, [&] { return in_flight_ < n; });
  }
  int64_t in_flight() {
    std::lock_guard<std::mutex> lock(mu_);
    return in_flight_;
  }
  ReplayReport Take(int64_t matched) {
    std::lock_guard<std::mutex> lock(mu_);
    ReplayReport out = report_;
    out.matched = matched;
    if (in_flight_ > 0) {
      out.failed += in_flight_;
      out.failures.push_back(std::to_string(in_flight_) +
                             " publish(es) still unacknowledged at the end of the wait");
    }
    return out;
  }

 private:
  void Fail(const std::string& what, const std::string& why) {
    ++report_.failed;
    if (report_.failures.size() < kMaxNamedFailures) report_.failures.push_back(what + ": " + why);
  }

  std::mutex mu_;
  std::condition_variable cv_;
  int64_t in_flight_ = 0;
  ReplayReport report_;
};

}  // namespace

DeadLetter ParseDeadLetter(const Record& record) {
  DeadLetter d;
  d.record = record;
  d.failed_at = record.timestamp;
  for (const Header& h : record.headers) {
    const std::string_view v = h.value;
    if (h.key == "X-Original-Topic") {
      d.origin_topic = h.value;
    } else if (h.key == "X-Original-Partition") {
      if (!ParseNumber(v, d.origin_partition)) d.origin_partition = -1;
    } else if (h.key == "X-Original-Offset") {
      if (!ParseNumber(v, d.origin_offset)) d.origin_offset = -1;
    } else if (h.key == "X-Error") {
      d.error = h.value;
    } else if (h.key == "X-Attempts") {
      if (!ParseNumber(v, d.attempts)) d.attempts = 0;
    } else if (h.key == "X-Failed-At") {
      if (Result<Timestamp> t = ParseRfc3339(v); t.ok()) {
        d.failed_at = std::chrono::time_point_cast<SystemTime::duration>(t->time);
      }
    } else if (h.key == "X-Event-ID") {
      d.event_id = h.value;
    } else if (h.key == "X-Event-Type") {
      d.event_type = h.value;
    }
  }
  return d;
}

DeadLetterFilter DeadLetterFilter::Make(const std::string& error, std::optional<SystemTime> since,
                                        std::optional<SystemTime> until, int64_t limit) {
  DeadLetterFilter f;
  f.error_ = error;
  if (!error.empty()) {
    try {
      f.regex_ = std::make_shared<const std::regex>(error, std::regex::ECMAScript);
    } catch (const std::regex_error&) {
      f.regex_.reset();  // e.g. "failed (retry" : taken literally
    }
  }
  f.since_ = since;
  f.until_ = until;
  f.limit_ = limit;
  return f;
}

bool DeadLetterFilter::Matches(const DeadLetter& d) const {
  if (since_ && d.failed_at < *since_) return false;
  if (until_ && d.failed_at >= *until_) return false;
  if (error_.empty() || d.error.find(error_) != std::string::npos) return true;
  return regex_ != nullptr && std::regex_search(d.error, *regex_);
}

Result<SystemTime> ParseTimeBound(std::string_view flag, std::string_view text, SystemTime now) {
  if (Result<Timestamp> t = ParseRfc3339(text); t.ok()) {
    return std::chrono::time_point_cast<SystemTime::duration>(t->time);
  }
  // A duration ago, with its unit: a bare number is refused (minutes? hours?).
  const bool bare_number = !text.empty() && text.find_first_not_of("0123456789.") == text.npos;
  config_internal::Field field{};
  field.path = flag;
  field.kind = config_internal::Kind::kDuration;
  Result<config_internal::Value> ago = config_internal::ParseScalar(field, text);
  if (!bare_number && ago.ok() && std::get<int64_t>(*ago) >= 0) {
    return now - std::chrono::duration_cast<SystemTime::duration>(
                     std::chrono::nanoseconds(std::get<int64_t>(*ago)));
  }
  return InvalidArgument(std::string(flag) + ": \"" + std::string(text.substr(0, 80)) +
                         "\" is neither an RFC 3339 time (2025-06-01T12:00:00Z) nor a duration "
                         "ago with its unit (90m, 1h30m, 36h)");
}

Result<int64_t> ForEachDeadLetter(transport::Transport& transport, const std::string& topic,
                                  const DeadLetterFilter& filter,
                                  const std::function<bool(const DeadLetter&)>& visit,
                                  const ProgressFn& progress) {
  int64_t read = 0;
  int64_t taken = 0;
  Status s = transport.ReadTopic(topic, [&](const Record& r, int64_t total) {
    ++read;
    if (progress) progress(read, total);
    DeadLetter d = ParseDeadLetter(r);
    if (!filter.Matches(d)) return true;
    ++taken;
    if (!visit(d)) return false;
    return filter.limit() == 0 || taken < filter.limit();
  });
  if (!s.ok()) return s;
  return taken;
}

Record ReplayRecord(const DeadLetter& d, const std::string& target) {
  Record r;
  r.topic = target;
  r.key = d.record.key;
  r.payload = d.record.payload;
  for (const Header& h : d.record.headers) {
    if (!IsDeadLetterHeader(h.key)) r.headers.push_back(h);
  }
  return r;
}

Result<ReplayReport> ReplayDeadLetters(transport::Transport& transport,
                                       const std::string& dlq_topic, const ReplayOptions& options) {
  Acks acks;  // before the producer: its callbacks may run until the producer is gone
  std::unique_ptr<transport::Producer> producer;
  if (!options.dry_run) {
    Result<std::unique_ptr<transport::Producer>> made = transport.CreateProducer();
    if (!made.ok()) return made.status();
    producer = std::move(made).value();
  }
  // JetStream drops a message whose id (the event id) it stored within its
  // duplicate window: a replay of a recent failure would vanish. Each
  // replay gets an id of its own instead (the NATS transport takes a
  // Nats-Msg-Id header as the id; its consumers never see that header).
  const bool own_msg_id = transport.name() == "nats";
  const std::string run = NewEventId();
  Result<int64_t> matched = ForEachDeadLetter(
      transport, dlq_topic, options.filter,
      [&](const DeadLetter& d) {
        const std::string what = Position(d.record);
        const std::string target = options.to.empty() ? d.origin_topic : options.to;
        if (options.on_each) options.on_each(d, target);
        if (target.empty()) {
          acks.Refused(what, "no X-Original-Topic header; name a topic with --to");
          return true;
        }
        if (options.dry_run) return true;
        Record r = ReplayRecord(d, target);
        if (own_msg_id) r.headers.push_back({"Nats-Msg-Id", "evbus-replay-" + run + "-" + what});
        const auto give_up = transport::Clock::now() + options.ack_timeout;
        for (;;) {
          if (!acks.WaitBelow(kMaxInFlight, give_up)) {
            acks.Refused(what, "no room: " + std::to_string(kMaxInFlight) +
                                   " publishes still unacknowledged");
            return true;
          }
          acks.Sent();
          Record attempt = r;  // Produce takes it even when it refuses it
          Status s = producer->Produce(
              std::move(attempt),
              [&acks, what](const Status& st, int32_t, int64_t) { acks.Done(st, what); });
          if (s.ok()) return true;
          acks.Unsent();
          if (s.code() != ErrorCode::kQueueFull || transport::Clock::now() >= give_up) {
            acks.Refused(what, s.ToString());
            return true;
          }
          // The transport's queue is full: wait for an acknowledgement (or
          // a moment, when none of ours is pending).
          (void)acks.WaitBelow(
              acks.in_flight(),
              std::min(give_up, transport::Clock::now() + std::chrono::milliseconds(50)));
        }
      },
      options.progress);
  if (producer) {
    const auto deadline = transport::Clock::now() + options.ack_timeout;
    (void)producer->Flush(deadline);
    (void)acks.WaitBelow(1, deadline);  // the callbacks themselves, after Flush
    producer->Close(transport::Clock::now() + std::chrono::seconds(5));
  }
  if (!matched.ok()) return matched.status();
  return acks.Take(*matched);
}

}  // namespace evbus::ops
