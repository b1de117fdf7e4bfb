#include "cli/workload_tally.h"

#include <charconv>
#include <cstring>

#include "codec/envelope_headers.h"
#include "evbus/census.h"
#include "transport/transport.h"

namespace evbus::cli {
namespace {

using Clock = std::chrono::steady_clock;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

// Raw payload: [send time ns][event index][padding]; envelope payload: JSON.
std::string RawPayload(int64_t index, int bytes) {
  std::string p(static_cast<size_t>(std::max(bytes, 16)), 'x');
  const int64_t now = NowNs();
  std::memcpy(p.data(), &now, 8);
  std::memcpy(p.data() + 8, &index, 8);
  return p;
}

std::string JsonPayload(int64_t index, int bytes) {
  std::string p = R"({"seq":)" + std::to_string(index) + R"(,"pad":")";
  p.append(static_cast<size_t>(std::max(0, bytes - static_cast<int>(p.size()) - 2)), 'x');
  p += "\"}";
  return p;
}

constexpr std::string_view kWarmupKey = "warmup";  // the prefix of every warm-up key
constexpr int64_t kWarmupIndex = -2;               // in a raw warm-up payload

// One key for each of `partitions` partitions ("warmup-<i>", the first i that
// maps there): a warm-up record on every partition proves the consumer reads
// them all, not only the one partition a single key reaches.
std::vector<std::string> WarmupKeys(int32_t partitions) {
  std::vector<std::string> keys(static_cast<size_t>(partitions));
  int32_t found = 0;
  for (int i = 0; found < partitions; ++i) {
    std::string key = std::string(kWarmupKey) + "-" + std::to_string(i);
    std::string& slot = keys[static_cast<size_t>(transport::PartitionForKey(key, partitions))];
    if (slot.empty()) {
      slot = std::move(key);
      ++found;
    }
  }
  return keys;
}

int64_t ParseTrailingInt(std::string_view s, size_t from) {
  int64_t n = -1;
  if (from <= s.size()) std::from_chars(s.data() + from, s.data() + s.size(), n);
  return n;
}

}  // namespace

// Event i goes to aggregate i % K as version i / K + 1.
Record MakeWorkloadRecord(const WorkloadOptions& o, int64_t i, Envelope* envelope_out) {
  const int64_t aggregate = i % o.aggregates;
  const int64_t version = i / o.aggregates + 1;
  Record r;
  r.topic = WorkloadTopic(o, aggregate);
  r.key = "agg-" + std::to_string(aggregate);
  if (envelope_out != nullptr) {
    *envelope_out = NewEnvelope(r.key, "BenchEvent", version, JsonPayload(i, o.payload_bytes));
  } else {
    r.payload = RawPayload(i, o.payload_bytes);
  }
  return r;
}

namespace {

// `e` encoded into `r`, with the headers evbus sends with it.
Status EncodeAsEvbusSends(const Envelope& e, Record& r) {
  if (Status s = EncodeEnvelope(e, r.payload); !s.ok()) return s;
  codec::AppendEnvelopeHeaders(e, r.headers);
  return Status();
}

}  // namespace

Result<Record> MakeEncodedRecord(const WorkloadOptions& o, int64_t i) {
  Envelope e;
  Record r = MakeWorkloadRecord(o, i, o.envelopes ? &e : nullptr);
  if (o.envelopes) {
    if (Status s = EncodeAsEvbusSends(e, r); !s.ok()) return s;
  }
  return r;
}

void TallyEnvelope(Tally& tally, const WorkloadOptions& o, const Envelope& e) {
  if (e.aggregate_id.starts_with(kWarmupKey)) return tally.WarmupReceived();
  const int64_t latency = (std::chrono::system_clock::now() - e.timestamp.time).count();
  const int64_t aggregate = ParseTrailingInt(e.aggregate_id, 4);
  tally.Received((e.event_version - 1) * o.aggregates + aggregate, aggregate, e.event_version,
                 latency);
}

void TallyRaw(Tally& tally, const WorkloadOptions& o, const Record& r) {
  int64_t sent = 0, index = -1;
  if (r.payload.size() >= 16) {
    std::memcpy(&sent, r.payload.data(), 8);
    std::memcpy(&index, r.payload.data() + 8, 8);
  }
  if (index == kWarmupIndex) return tally.WarmupReceived();
  tally.Received(index, index % o.aggregates, index / o.aggregates + 1, NowNs() - sent);
}

Status PublishWarmups(const WorkloadOptions& o, Tally& tally,
                      const std::function<Status(Record& r, Envelope* e)>& send) {
  const std::vector<std::string> topics = WorkloadTopics(o);
  const std::vector<std::string> keys = WarmupKeys(WorkloadPartitions(o.config));
  for (const std::string& topic : topics) {
    for (const std::string& key : keys) {
      Record r;
      r.topic = topic;
      r.key = key;
      Envelope e;
      if (o.envelopes) {
        e = NewEnvelope(r.key, "BenchWarmup", 1, R"({"warmup":true})");
      } else {
        r.payload = RawPayload(kWarmupIndex, o.payload_bytes);
      }
      if (Status s = send(r, o.envelopes ? &e : nullptr); !s.ok()) return s;
    }
  }
  const int expected = static_cast<int>(topics.size() * keys.size());
  if (!tally.WaitForWarmups(expected, std::chrono::seconds(60))) {
    return Status(ErrorCode::kTimeout,
                  "warm-up: the consumer did not receive a first record of each partition in 60 s");
  }
  return Status();
}

Status PublishRawWorkload(const WorkloadOptions& o, Tally& tally, WorkloadResult& result,
                          Clock::time_point& start,
                          const std::function<void(int64_t i, Record& r)>& send) {
  Status warm = PublishWarmups(o, tally, [&](Record& r, Envelope* e) {
    if (e != nullptr) {
      if (Status s = EncodeAsEvbusSends(*e, r); !s.ok()) return s;
    }
    send(-1, r);
    return Status();
  });
  if (!warm.ok()) return warm;
  start = tally.Start();
  for (int64_t i = 0; i < o.events; ++i) {
    tally.WaitForTurn(i);
    Result<Record> made = MakeEncodedRecord(o, i);
    if (!made.ok()) return made.status();
    send(i, *made);
    if (i == o.events / 2) result.threads_running = CountProcessThreads();
    tally.Tick(i, start, result);
  }
  result.published = o.events;
  return Status();
}

}  // namespace evbus::cli
