// Sync publishes, per-publish timeouts, batches and publish interceptors
// where a fault is needed (a producer that never acknowledges, a full queue,
// a closing bus): the memory broker, wrapped (tests/fault_transport.h).

#include <map>
#include <set>
#include <thread>

#include "fault_transport.h"
#include "test_support.h"

namespace evbus::test {
namespace {

class PublishSyncTest : public FaultBusTest {};

// Counts results per key (event id, or batch index), under one Signal.
template <typename Key>
struct Tally {
  Signal signal;
  std::map<Key, std::vector<Status>> results;
  void Add(const Key& key, const Status& s) {
    signal.Update([&] { results[key].push_back(s); });
  }
  size_t size() {
    std::lock_guard<std::mutex> lock(signal.mutex());
    return results.size();
  }
};

TEST_F(PublishSyncTest, SyncTimesOutWithoutAnAckAndTheResultStillComesOnce) {
  Config config = MemoryConfig(UniqueName("synctimeout"));
  switches_->hold_completions = true;  // accepted, never acknowledged until close
  Tally<std::string> sunk;
  {
    auto bus = NewFaultyBus(config);
    ASSERT_OK(bus->SetPublishResultCallback(
        [&](const PublishResult& r) { sunk.Add(r.event_id, r.status); }));
    PublishOptions options;
    options.timeout = std::chrono::milliseconds(50);
    const Envelope e = NewEnvelope("agg", "T", 1, "{}");
    const auto before = std::chrono::steady_clock::now();
    Result<PublishResult> r = bus->PublishEnvelopeSync("t", e, options);
    EXPECT_GE(std::chrono::steady_clock::now() - before, *options.timeout);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), ErrorCode::kTimeout);
    EXPECT_NE(r.status().message().find("PublishOptions::timeout"), std::string::npos)
        << r.status().ToString();
    EXPECT_EQ(sunk.size(), 0u);  // not completed yet
    ASSERT_OK(bus->Close().status());
    std::lock_guard<std::mutex> lock(sunk.signal.mutex());
    ASSERT_EQ(sunk.results.size(), 1u);
    ASSERT_EQ(sunk.results[e.event_id].size(), 1u);  // completed by Close, exactly once
    EXPECT_EQ(sunk.results[e.event_id][0].code(), ErrorCode::kClosed);
  }
}

TEST_F(PublishSyncTest, AnOptionsTimeoutReplacesPublisherTimeoutForTheWaitForRoom) {
  Config config = MemoryConfig(UniqueName("optstimeout"));
  config.publisher.max_in_flight = 1;
  config.publisher.timeout = std::chrono::seconds(30);
  switches_->hold_completions = true;
  auto bus = NewFaultyBus(config);
  ASSERT_OK(bus->PublishEnvelope("t", NewEnvelope("agg", "T", 1, "{}")));  // takes the one slot
  PublishOptions options;
  options.timeout = std::chrono::milliseconds(20);
  const auto before = std::chrono::steady_clock::now();
  const Status full = bus->PublishEnvelope("t", NewEnvelope("agg", "T", 2, "{}"), nullptr, options);
  EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::seconds(10));
  EXPECT_EQ(full.code(), ErrorCode::kQueueFull);
  EXPECT_NE(full.message().find("PublishOptions::timeout"), std::string::npos) << full.ToString();
  options.timeout = std::chrono::milliseconds(-1);
  EXPECT_EQ(bus->PublishEnvelope("t", NewEnvelope("agg", "T", 3, "{}"), nullptr, options).code(),
            ErrorCode::kInvalidArgument);
  ASSERT_OK(bus->Close().status());
}

// A batch that meets a full queue: the envelopes before it complete on
// acknowledgement (here: with Closed at close), the refused one and those
// after it before PublishBatch returns; each exactly once.
TEST_F(PublishSyncTest, ABatchRefusedMidwayCompletesEachEnvelopeOnce) {
  Config config = MemoryConfig(UniqueName("batchfull"));
  config.publisher.max_in_flight = 2;
  config.publisher.timeout = std::chrono::milliseconds(20);
  switches_->hold_completions = true;
  Tally<size_t> calls;
  Tally<std::string> sunk;
  std::vector<Envelope> batch;
  for (int v = 1; v <= 5; ++v) batch.push_back(NewEnvelope("agg", "T", v, "{}"));
  {
    auto bus = NewFaultyBus(config);
    ASSERT_OK(bus->SetPublishResultCallback(
        [&](const PublishResult& r) { sunk.Add(r.event_id, r.status); }));
    const Status s = bus->PublishBatch(
        "t", batch, [&](size_t i, const PublishResult& r) { calls.Add(i, r.status); });
    EXPECT_EQ(s.code(), ErrorCode::kQueueFull);
    EXPECT_NE(s.message().find("envelope 2 of 5"), std::string::npos) << s.ToString();
    EXPECT_NE(s.message().find(batch[2].event_id), std::string::npos) << s.ToString();
    {
      std::lock_guard<std::mutex> lock(calls.signal.mutex());
      EXPECT_EQ(calls.results.size(), 3u);  // the refused ones, before it returned
      for (size_t i = 2; i < 5; ++i) {
        ASSERT_EQ(calls.results[i].size(), 1u) << i;
        EXPECT_EQ(calls.results[i][0].code(), ErrorCode::kQueueFull) << i;
        EXPECT_TRUE(calls.results[i][0].retriable());
      }
      EXPECT_NE(calls.results[3][0].message().find("envelope 2 of the batch"), std::string::npos)
          << calls.results[3][0].ToString();
    }
    ASSERT_OK(bus->Close().status());
  }
  std::lock_guard<std::mutex> lock(calls.signal.mutex());
  ASSERT_EQ(calls.results.size(), 5u);
  for (size_t i = 0; i < 2; ++i) {
    ASSERT_EQ(calls.results[i].size(), 1u) << i;
    EXPECT_EQ(calls.results[i][0].code(), ErrorCode::kClosed) << i;
  }
  std::lock_guard<std::mutex> sunk_lock(sunk.signal.mutex());
  EXPECT_EQ(sunk.results.size(), 2u);  // only the accepted ones reach the result callback
}

// One thread publishes a large batch while another closes the bus: every
// envelope gets exactly one result, accepted (stored, or Closed) or refused.
TEST_F(PublishSyncTest, ABatchRacingCloseCompletesEachEnvelopeOnce) {
  Config config = MemoryConfig(UniqueName("batchclose"));
  constexpr size_t kCount = 20000;
  std::vector<Envelope> batch;
  for (size_t i = 0; i < kCount; ++i) {
    batch.push_back(NewEnvelope("agg-" + std::to_string(i % 13), "T", 1, "{}"));
  }
  std::vector<std::atomic<int>> calls(kCount);
  std::atomic<size_t> done{0};
  Signal started;
  bool publishing = false;
  Status batch_status;
  auto bus = NewFaultyBus(config);
  std::thread publisher([&] {
    started.Update([&] { publishing = true; });
    batch_status = bus->PublishBatch("t", batch, [&](size_t i, const PublishResult&) {
      calls[i].fetch_add(1);
      done.fetch_add(1);
    });
  });
  ASSERT_TRUE(started.WaitUntil([&] { return publishing; }));
  ASSERT_OK(bus->Close().status());
  publisher.join();
  EXPECT_EQ(done.load(), kCount);
  for (size_t i = 0; i < kCount; ++i) ASSERT_EQ(calls[i].load(), 1) << i;
  if (!batch_status.ok()) {
    EXPECT_EQ(batch_status.code(), ErrorCode::kClosed);
  }
}

TEST_F(PublishSyncTest, SyncInsideTheResultCallbackIsWouldDeadlock) {
  Config config = MemoryConfig(UniqueName("syncsink"));
  auto bus = NewFaultyBus(config);
  std::vector<Status> inside;
  ASSERT_OK(bus->SetPublishResultCallback([&](const PublishResult& r) {
    if (r.event_type != "Outer") return;
    inside.push_back(bus->PublishEnvelopeSync("t", NewEnvelope("agg", "Inner", 1, "{}")).status());
  }));
  ASSERT_OK(bus->PublishEnvelope("t", NewEnvelope("agg", "Outer", 1, "{}")));
  ASSERT_EQ(inside.size(), 1u);  // memory completes on the publishing thread
  EXPECT_EQ(inside[0].code(), ErrorCode::kWouldDeadlock) << inside[0].ToString();
  ASSERT_OK(bus->Close().status());
}

// The interceptor sees every publish the application makes, once, with the
// options applied, and can inject a trace context; the bus's own dead
// letters are not intercepted (they keep the original's headers).
TEST_F(PublishSyncTest, AnInterceptorRunsOncePerPublishOfEveryKind) {
  Config config = MemoryConfig(UniqueName("intercept"));
  config.subscriber.retry.max_attempts = 1;
  const TraceContext root = TraceContext::New();
  std::atomic<int> intercepted{0};
  std::atomic<int> saw_option_header{0};
  Signal signal;
  std::vector<Record> received;
  std::vector<Record> dead;
  auto bus = NewFaultyBus(config);
  EXPECT_EQ(bus->AddPublishInterceptor(nullptr).code(), ErrorCode::kInvalidArgument);
  ASSERT_OK(bus->AddPublishInterceptor([&](Record& r) {
    intercepted.fetch_add(1);
    if (FindHeader(r.headers, "from-options")) saw_option_header.fetch_add(1);
    root.Child().Inject(r.headers);
  }));
  ASSERT_OK(bus->Subscribe("t", [&](const Record& r, const Delivery& d) {
    signal.Update([&] { received.push_back(r); });
    EXPECT_EQ(d.trace()->trace_id, root.trace_id);
    return r.payload == "fail" ? Permanent("no") : Status();
  }));
  ASSERT_OK(bus->Subscribe("t.dlq", [&](const Record& r, const Delivery&) {
    signal.Update([&] { dead.push_back(r); });
    return Status();
  }));
  ASSERT_OK(bus->Start());
  PublishOptions options;
  options.headers = {{"from-options", "1"}};
  Record record;
  record.topic = "t";
  record.payload = "fail";
  ASSERT_OK(bus->Publish(record));
  ASSERT_OK(bus->Publish(record, nullptr, options));
  ASSERT_OK(bus->PublishEnvelope("t", NewEnvelope("agg", "T", 1, "{}")));
  ASSERT_OK(bus->PublishEnvelopeSync("t", NewEnvelope("agg", "T", 2, "{}"), options).status());
  std::vector<Envelope> batch = {NewEnvelope("agg", "T", 3, "{}"),
                                 NewEnvelope("agg", "T", 4, "{}")};
  ASSERT_OK(bus->PublishBatch("t", batch, nullptr, options));
  ASSERT_TRUE(signal.WaitUntil([&] { return received.size() == 6 && dead.size() == 2; }));
  EXPECT_EQ(intercepted.load(), 6);  // the two dead letters were not intercepted
  EXPECT_EQ(saw_option_header.load(), 4);
  {
    std::lock_guard<std::mutex> lock(signal.mutex());
    std::set<std::string> spans;
    for (const Record& r : received) {
      std::optional<TraceContext> t = TraceContext::FromHeaders(r.headers);
      ASSERT_TRUE(t.has_value());
      EXPECT_EQ(t->trace_id, root.trace_id);
      spans.insert(t->parent_id);
    }
    EXPECT_EQ(spans.size(), 6u);  // one child span per publish
    for (const Record& r : dead) {
      EXPECT_EQ(TraceContext::FromHeaders(r.headers)->trace_id, root.trace_id);
    }
  }
  const Status late = bus->AddPublishInterceptor([](Record&) {});
  EXPECT_EQ(late.code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(late.message().find("publish interceptor"), std::string::npos) << late.ToString();
  ASSERT_OK(bus->Close().status());
}

}  // namespace
}  // namespace evbus::test
