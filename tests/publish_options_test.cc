// Publishing options and trace context on every transport of the conformance
// suite (memory; Kafka and NATS against their servers): headers and an
// explicit partition reach the subscriber, a partition out of range fails by
// name, a Sync publish returns where the subscriber finds the record, a batch
// completes each envelope once, traceparent/tracestate reach every attempt
// and the dead letter.

#include <map>

#include "conformance.h"
#include "transport/transport.h"

namespace evbus::test {
namespace {

class PublishOptionsTest : public ConformanceTest {};

constexpr char kTraceparent[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
constexpr char kTracestate[] = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE";

// A key whose own partition (of `partitions`) is not `avoid`.
std::string KeyNotIn(int32_t avoid, int32_t partitions) {
  for (int i = 0;; ++i) {
    std::string key = "key-" + std::to_string(i);
    if (transport::PartitionForKey(key, partitions) != avoid) return key;
  }
}

// Records received by a subscription, under one Signal.
struct Received {
  Signal signal;
  std::vector<Record> records;
  Status Collect(EventBus& bus, const std::string& topic) {
    return bus.Subscribe(topic, [this](const Record& r, const Delivery&) {
      signal.Update([&] { records.push_back(r); });
      return Status();
    });
  }
  bool WaitFor(size_t n) {
    return signal.WaitUntil([&] { return records.size() >= n; });
  }
};

TEST_P(PublishOptionsTest, HeadersAndAnExplicitPartitionReachTheSubscriber) {
  Config config = MakeConfig();
  const std::string topic = Topic("opts");
  const int32_t target = 2;
  Received received;
  auto bus = NewBus(config);
  ASSERT_OK(received.Collect(*bus, topic));
  ASSERT_OK(bus->Start());
  PublishOptions options;
  options.headers = {{"tenant", "eu"}, {"tenant", "de"}};  // kept in order, repeated key too
  options.partition = target;
  for (int k = 0; k < 4; ++k) {  // keys of every partition, all in the one asked for
    ASSERT_OK(bus->PublishEnvelope(topic, NewEnvelope("agg-" + std::to_string(k), "T", 1, "{}"),
                                   nullptr, options));
  }
  Record raw;
  raw.topic = topic;
  raw.key = KeyNotIn(target, partitions());
  raw.payload = "raw";
  ASSERT_OK(bus->Publish(raw, nullptr, options));
  // Without the option, record.partition is not a request: the key decides, as before.
  Record by_key = raw;
  by_key.payload = "by-key";
  by_key.partition = target;
  ASSERT_OK(bus->Publish(by_key));
  ASSERT_TRUE(received.WaitFor(6));
  std::lock_guard<std::mutex> lock(received.signal.mutex());
  for (const Record& r : received.records) {
    if (r.payload == "by-key") {
      EXPECT_EQ(r.partition, transport::PartitionForKey(r.key, partitions()));
      continue;
    }
    EXPECT_EQ(r.partition, target) << r.key;
    // Beside an envelope's own X-* headers; one key's values in order (NATS
    // headers keep that order, not the order across keys).
    std::vector<std::string> tenants;
    for (const Header& h : r.headers) {
      if (h.key == "tenant") tenants.push_back(h.value);
    }
    EXPECT_EQ(tenants, (std::vector<std::string>{"eu", "de"})) << r.key;
    EXPECT_EQ(FindHeader(r.headers, "X-Event-ID").has_value(), r.payload != "raw") << r.key;
  }
}

TEST_P(PublishOptionsTest, APartitionOutOfRangeFailsNamingIt) {
  Config config = MakeConfig();
  const std::string topic = Topic("range");
  auto bus = NewBus(config);
  PublishOptions options;
  options.partition = partitions();  // one past the last
  Signal signal;
  std::optional<PublishResult> result;
  const Status s = bus->PublishEnvelope(
      topic, NewEnvelope("agg", "T", 1, "{}"),
      [&](const PublishResult& r) { signal.Update([&] { result = r; }); }, options);
  // Refused at once where the transport knows the count, else as the result.
  Status failure = s;
  if (s.ok()) {
    ASSERT_TRUE(signal.WaitUntil([&] { return result.has_value(); }));
    std::lock_guard<std::mutex> lock(signal.mutex());
    failure = result->status;
  }
  EXPECT_EQ(failure.code(), ErrorCode::kInvalidArgument) << failure.ToString();
  EXPECT_NE(failure.message().find("partition " + std::to_string(partitions())), std::string::npos)
      << failure.ToString();
  EXPECT_NE(failure.message().find(topic), std::string::npos) << failure.ToString();
  options.partition = -1;
  const Status negative =
      bus->PublishEnvelope(topic, NewEnvelope("agg", "T", 1, "{}"), nullptr, options);
  EXPECT_EQ(negative.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(negative.message().find("partition -1"), std::string::npos) << negative.ToString();
  if (GetParam() == "nats") {  // jxt-core's layout has one partition per topic
    Config jxt = config;
    jxt.nats.layout = NatsLayout::kJxt;
    jxt.nats.stream = "JXT_UNUSED";  // refused before any stream is made
    jxt.nats.subjects = {topic + ".>"};
    auto jxt_bus = NewBus(jxt);
    options.partition = 1;
    const Status one =
        jxt_bus->PublishEnvelope(topic, NewEnvelope("agg", "T", 1, "{}"), nullptr, options);
    EXPECT_EQ(one.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(one.message().find("the jxt layout has one partition"), std::string::npos)
        << one.ToString();
  }
}

// Sync from the test thread and from a handler: each result's partition and
// offset are where the subscriber finds that event.
TEST_P(PublishOptionsTest, SyncReturnsWhereTheSubscriberFindsTheRecord) {
  Config config = MakeConfig();
  const std::string in = Topic("in");
  const std::string out = Topic("out");
  Received received;
  Signal signal;
  std::vector<Result<PublishResult>> from_handler;
  auto bus = NewBus(config);
  ASSERT_OK(received.Collect(*bus, out));
  ASSERT_OK(bus->SubscribeEnvelope(in, [&](const Envelope& e, const Delivery&) {
    Envelope forwarded = NewEnvelope(e.aggregate_id, "Forwarded", 1, e.payload);
    Result<PublishResult> r = bus->PublishEnvelopeSync(out, forwarded);
    signal.Update([&] { from_handler.push_back(r); });
    return Status();
  }));
  ASSERT_OK(bus->Start());
  std::vector<PublishResult> results;
  PublishOptions options;
  options.partition = 3;
  for (int i = 0; i < 3; ++i) {
    Result<PublishResult> r =
        bus->PublishEnvelopeSync(out, NewEnvelope("agg-" + std::to_string(i), "T", 1, "{}"),
                                 i == 2 ? options : PublishOptions{});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_TRUE(r->status.ok());
    EXPECT_GE(r->offset, 0);
    results.push_back(*r);
  }
  EXPECT_EQ(results[2].partition, 3);
  Record raw;
  raw.topic = out;
  raw.payload = "raw-sync";
  Result<PublishResult> raw_result = bus->PublishSync(raw, options);
  ASSERT_TRUE(raw_result.ok()) << raw_result.status().ToString();
  EXPECT_EQ(raw_result->partition, 3);
  ASSERT_OK(bus->PublishEnvelope(in, NewEnvelope("agg-h", "T", 1, "{}")));
  ASSERT_TRUE(signal.WaitUntil([&] { return from_handler.size() == 1; }));
  {
    std::lock_guard<std::mutex> lock(signal.mutex());
    ASSERT_TRUE(from_handler[0].ok()) << from_handler[0].status().ToString();
    results.push_back(*from_handler[0]);
  }
  ASSERT_TRUE(received.WaitFor(5));
  std::lock_guard<std::mutex> lock(received.signal.mutex());
  for (const Record& rec : received.records) {
    if (rec.payload != "raw-sync") continue;
    EXPECT_EQ(rec.partition, raw_result->partition);
    EXPECT_EQ(rec.offset, raw_result->offset);
  }
  for (const PublishResult& r : results) {
    bool found = false;
    for (const Record& rec : received.records) {
      if (FindHeader(rec.headers, "X-Event-ID") != r.event_id) continue;
      found = true;
      EXPECT_EQ(rec.partition, r.partition) << r.event_id;
      EXPECT_EQ(rec.offset, r.offset) << r.event_id;
    }
    EXPECT_TRUE(found) << r.event_id;
  }
}

// Inside a publish callback (Kafka: "evb-kprod"; NATS: cnats's ack thread;
// memory: the publishing thread) a Sync publish would wait for itself.
TEST_P(PublishOptionsTest, SyncInsideAPublishCallbackIsWouldDeadlock) {
  Config config = MakeConfig();
  const std::string topic = Topic("cb");
  auto bus = NewBus(config);
  Signal signal;
  std::optional<Status> inside;
  ASSERT_OK(
      bus->PublishEnvelope(topic, NewEnvelope("agg", "T", 1, "{}"), [&](const PublishResult&) {
        Result<PublishResult> r = bus->PublishEnvelopeSync(topic, NewEnvelope("agg", "T", 2, "{}"));
        signal.Update([&] { inside = r.status(); });
      }));
  ASSERT_TRUE(signal.WaitUntil([&] { return inside.has_value(); }));
  EXPECT_EQ(inside->code(), ErrorCode::kWouldDeadlock) << inside->ToString();
  // Outside any callback it works.
  Result<PublishResult> r = bus->PublishEnvelopeSync(topic, NewEnvelope("agg", "T", 3, "{}"));
  EXPECT_TRUE(r.ok()) << r.status().ToString();
}

TEST_P(PublishOptionsTest, ABatchCompletesEachEnvelopeOnce) {
  Config config = MakeConfig();
  const std::string topic = Topic("batch");
  constexpr size_t kCount = 50;
  auto bus = NewBus(config);
  Signal signal;
  std::map<size_t, int> calls;
  std::map<std::string, int> sunk;
  ASSERT_OK(bus->SetPublishResultCallback(
      [&](const PublishResult& r) { signal.Update([&] { ++sunk[r.event_id]; }); }));
  std::vector<Envelope> batch;
  for (size_t i = 0; i < kCount; ++i) {
    batch.push_back(NewEnvelope("agg-" + std::to_string(i % 7), "T", 1, "{}"));
  }
  ASSERT_OK(bus->PublishBatch(topic, batch, [&](size_t i, const PublishResult& r) {
    EXPECT_TRUE(r.status.ok()) << r.status.ToString();
    EXPECT_EQ(r.event_id, batch[i].event_id);
    signal.Update([&] { ++calls[i]; });
  }));
  ASSERT_TRUE(signal.WaitUntil([&] { return calls.size() == kCount && sunk.size() == kCount; }));
  ASSERT_OK(bus->Close().status());
  std::lock_guard<std::mutex> lock(signal.mutex());
  for (const auto& [i, n] : calls) EXPECT_EQ(n, 1) << i;
  for (const auto& [id, n] : sunk) EXPECT_EQ(n, 1) << id;
}

// traceparent and tracestate reach each attempt of a failing handler
// (Delivery::trace) and the dead-letter record, unchanged.
TEST_P(PublishOptionsTest, TraceContextReachesEveryAttemptAndTheDeadLetter) {
  Config config = MakeConfig();
  const std::string topic = Topic("traced");
  Received dead;
  Signal signal;
  std::vector<std::optional<TraceContext>> attempts;
  std::optional<TraceContext> untraced = TraceContext::New();
  auto bus = NewBus(config);
  ASSERT_OK(bus->SubscribeEnvelope(topic, [&](const Envelope& e, const Delivery& d) {
    if (e.aggregate_id == "plain") {
      signal.Update([&] { untraced = d.trace(); });
      return Status();
    }
    signal.Update([&] { attempts.push_back(d.trace()); });
    return Status(ErrorCode::kHandlerFailed, "boom");
  }));
  ASSERT_OK(dead.Collect(*bus, topic + ".dlq"));
  ASSERT_OK(bus->Start());
  PublishOptions options;
  options.headers = {{kTraceparentHeader, kTraceparent}, {kTracestateHeader, kTracestate}};
  ASSERT_OK(bus->PublishEnvelope(topic, NewEnvelope("traced", "T", 1, "{}"), nullptr, options));
  ASSERT_OK(bus->PublishEnvelope(topic, NewEnvelope("plain", "T", 1, "{}")));
  ASSERT_TRUE(dead.WaitFor(1));
  const TraceContext sent = *TraceContext::Parse(kTraceparent, kTracestate);
  {
    std::lock_guard<std::mutex> lock(signal.mutex());
    ASSERT_EQ(attempts.size(), static_cast<size_t>(config.subscriber.retry.max_attempts));
    for (const std::optional<TraceContext>& t : attempts) EXPECT_EQ(t, sent);
  }
  ASSERT_TRUE(signal.WaitUntil([&] { return !untraced.has_value(); }));
  std::lock_guard<std::mutex> lock(dead.signal.mutex());
  const Record& r = dead.records[0];
  EXPECT_EQ(FindHeader(r.headers, kTraceparentHeader).value_or(""), kTraceparent);
  EXPECT_EQ(FindHeader(r.headers, kTracestateHeader).value_or(""), kTracestate);
  EXPECT_EQ(TraceContext::FromHeaders(r.headers), sent);
}

std::vector<std::string> TransportNames() {
  std::vector<std::string> names;
  for (const TransportUnderTest& t : ConformanceTransports()) {
    // Publishing depends neither on the rebalance protocol nor on how a
    // consumer waits: Kafka and NATS run once.
    if (t.name != "kafka_cooperative" && t.name != "nats_notices") names.push_back(t.name);
  }
  return names;
}

INSTANTIATE_TEST_SUITE_P(Transports, PublishOptionsTest, ::testing::ValuesIn(TransportNames()),
                         [](const ::testing::TestParamInfo<std::string>& param) {
                           return param.param;
                         });

}  // namespace
}  // namespace evbus::test
