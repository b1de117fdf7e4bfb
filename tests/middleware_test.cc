// Middleware (handler.h, middleware.h) on the memory transport: the order of
// a chain, short-circuits, the handler's Status contract through a chain, and
// what each built-in does that a user sees (metrics, dead letters, headers).
// Middleware is transport-independent; the correlation id's trip through a
// real broker is in kafka_middleware_test.cc and nats_middleware_test.cc.

#include <map>
#include <set>
#include <stdexcept>

#include "correlation_flow.h"
#include "test_support.h"

namespace evbus::test {
namespace {

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class MiddlewareTest : public BusTest {
 protected:
  void TearDown() override { ExpectThreadsAtBaseline(); }

  std::unique_ptr<EventBus> NewBus(const Config& config) {
    auto bus = EventBus::Create(config);
    EXPECT_TRUE(bus.ok()) << bus.status().ToString();
    return bus.ok() ? std::move(bus).value() : nullptr;
  }
  static void Close(EventBus& bus) {
    auto report = bus.Close();
    ASSERT_TRUE(report.ok());
    EXPECT_TRUE(report->status.ok()) << report->ToString();
  }
  static void PublishRecord(EventBus& bus, const std::string& topic, const std::string& key,
                            const std::string& payload, Headers headers = {}) {
    Record r;
    r.topic = topic;
    r.key = key;
    r.payload = payload;
    r.headers = std::move(headers);
    ASSERT_OK(bus.Publish(std::move(r)));
  }
};

// Records each message's path through the chain.
class Trace {
 public:
  // A middleware that logs "<name>>" on the way in and "<<name>" on the way out.
  Middleware Layer(const std::string& name) {
    return [this, name](MessageHandler next) -> MessageHandler {
      return [this, name, next = std::move(next)](const Message& m) {
        Log(name + ">");
        Status s = next(m);
        Log("<" + name);
        return s;
      };
    };
  }
  void Log(const std::string& step) {
    signal_.Update([&] { steps_.push_back(step); });
  }
  bool WaitFor(size_t n) {
    return signal_.WaitUntil([&] { return steps_.size() >= n; });
  }
  std::vector<std::string> steps() {
    std::lock_guard<std::mutex> lock(signal_.mutex());
    return steps_;
  }

 private:
  Signal signal_;
  std::vector<std::string> steps_;
};

struct DeadLetters {
  Signal signal;
  std::vector<Record> records;
  RecordHandler Handler() {
    return [this](const Record& r, const Delivery&) {
      signal.Update([&] { records.push_back(r); });
      return Status();
    };
  }
  bool WaitFor(size_t n) {
    return signal.WaitUntil([&] { return records.size() >= n; });
  }
  std::string Header(size_t i, const std::string& name) {
    std::lock_guard<std::mutex> lock(signal.mutex());
    return std::string(FindHeader(records.at(i).headers, name).value_or(""));
  }
};

TEST_F(MiddlewareTest, ChainRunsOutermostFirstWithBusWideOutsidePerSubscription) {
  auto bus = NewBus(MemoryConfig(UniqueName("mw-order")));
  ASSERT_TRUE(bus);
  Trace trace;
  // Subscribed before Use(): bus-wide middleware still wraps it (chains are built at Start).
  SubscribeOptions options;
  options.middleware = {trace.Layer("sub1"), trace.Layer("sub2")};
  ASSERT_OK(bus->Subscribe(
      "orders",
      [&](const Record&, const Delivery&) {
        trace.Log("handler");
        return Status();
      },
      options));
  ASSERT_OK(bus->Use(trace.Layer("bus1")));
  ASSERT_OK(bus->Use(trace.Layer("bus2")));
  ASSERT_OK(bus->Start());
  PublishRecord(*bus, "orders", "k", "p");
  ASSERT_TRUE(trace.WaitFor(9));
  EXPECT_EQ(trace.steps(), (std::vector<std::string>{"bus1>", "bus2>", "sub1>", "sub2>", "handler",
                                                     "<sub2", "<sub1", "<bus2", "<bus1"}));
  Close(*bus);
}

TEST_F(MiddlewareTest, SubscriptionAfterStartGetsTheBusWideChainToo) {
  auto bus = NewBus(MemoryConfig(UniqueName("mw-late")));
  ASSERT_TRUE(bus);
  Trace trace;
  ASSERT_OK(bus->Use(trace.Layer("bus")));
  ASSERT_OK(bus->Subscribe("early", [](const Record&, const Delivery&) { return Status(); }));
  ASSERT_OK(bus->Start());
  SubscribeOptions options;
  options.middleware = {trace.Layer("sub")};
  ASSERT_OK(bus->Subscribe(
      "late",
      [&](const Record&, const Delivery&) {
        trace.Log("handler");
        return Status();
      },
      options));
  PublishRecord(*bus, "late", "k", "p");
  ASSERT_TRUE(trace.WaitFor(5));
  EXPECT_EQ(trace.steps(), (std::vector<std::string>{"bus>", "sub>", "handler", "<sub", "<bus"}));
  Close(*bus);
}

TEST_F(MiddlewareTest, AMiddlewareCanSettleOrDeadLetterWithoutCallingTheHandler) {
  Config config = MemoryConfig(UniqueName("mw-short"));
  config.subscriber.retry.max_attempts = 5;
  auto bus = NewBus(config);
  ASSERT_TRUE(bus);
  // "skip" is settled as if handled, "reject" dead-lettered at once; the rest go through.
  // (Per subscription: bus-wide, it would reject the dead letter of "reject" too.)
  SubscribeOptions options;
  options.middleware = {[](MessageHandler next) -> MessageHandler {
    return [next = std::move(next)](const Message& m) {
      if (m.record.payload == "skip") return Status();
      if (m.record.payload == "reject") return Permanent("rejected by the gatekeeper");
      return next(m);
    };
  }};
  std::atomic<int> handler_calls{0};
  ASSERT_OK(bus->Subscribe(
      "orders",
      [&](const Record& r, const Delivery&) {
        EXPECT_EQ(r.payload, "pass");
        ++handler_calls;
        return Status();
      },
      options));
  DeadLetters dlq;
  ASSERT_OK(bus->Subscribe("orders.dlq", dlq.Handler()));
  ASSERT_OK(bus->Start());
  PublishRecord(*bus, "orders", "a", "skip");
  PublishRecord(*bus, "orders", "b", "reject");
  PublishRecord(*bus, "orders", "c", "pass");
  ASSERT_TRUE(dlq.WaitFor(1));
  EXPECT_EQ(dlq.Header(0, "X-Error"), "Permanent: rejected by the gatekeeper");
  EXPECT_EQ(dlq.Header(0, "X-Attempts"), "1");
  // skip + pass + the dead letter read back; nothing retried.
  EXPECT_TRUE(Eventually([&] { return bus->stats().handled == 3; }));
  EXPECT_EQ(handler_calls.load(), 1);
  EXPECT_EQ(bus->stats().retried, 0u);
  Close(*bus);
}

TEST_F(MiddlewareTest, HandlerStatusKeepsItsMeaningThroughTheChain) {
  Config config = MemoryConfig(UniqueName("mw-status"));
  config.subscriber.retry.max_attempts = 3;
  auto bus = NewBus(config);
  ASSERT_TRUE(bus);
  std::atomic<int> chain_calls{0};
  ASSERT_OK(bus->Use([&](MessageHandler next) -> MessageHandler {
    return [&, next = std::move(next)](const Message& m) {
      ++chain_calls;
      return next(m);
    };
  }));
  ASSERT_OK(bus->Use(middleware::Timing()));
  std::atomic<int> failing_attempts{0};
  // A failure: retried max_attempts times, each through the whole chain.
  ASSERT_OK(bus->Subscribe("flaky", [&](const Record&, const Delivery& d) {
    failing_attempts = d.attempt;
    return Status(ErrorCode::kUnavailable, "inventory service down");
  }));
  // Permanent: dead-lettered at once.
  ASSERT_OK(bus->Subscribe("strict", [&](const Record&, const Delivery&) {
    return Permanent("order total is negative");
  }));
  DeadLetters flaky_dlq, strict_dlq;
  ASSERT_OK(bus->Subscribe("flaky.dlq", flaky_dlq.Handler()));
  ASSERT_OK(bus->Subscribe("strict.dlq", strict_dlq.Handler()));
  ASSERT_OK(bus->Start());
  PublishRecord(*bus, "flaky", "k", "p");
  PublishRecord(*bus, "strict", "k", "p");
  ASSERT_TRUE(flaky_dlq.WaitFor(1));
  ASSERT_TRUE(strict_dlq.WaitFor(1));
  EXPECT_EQ(flaky_dlq.Header(0, "X-Attempts"), "3");
  EXPECT_EQ(flaky_dlq.Header(0, "X-Error"), "Unavailable: inventory service down");
  EXPECT_EQ(failing_attempts.load(), 3);
  EXPECT_EQ(strict_dlq.Header(0, "X-Attempts"), "1");
  EXPECT_EQ(strict_dlq.Header(0, "X-Error"), "Permanent: order total is negative");
  // 3 + 1 attempts, then the two dead letters read back.
  EXPECT_TRUE(Eventually([&] { return chain_calls.load() == 6; }));
  EXPECT_EQ(bus->stats().retried, 2u);
  const std::string metrics = bus->MetricsText();
  EXPECT_TRUE(Contains(metrics,
                       "evbus_handler_seconds_count{service=\"evbus\",topic=\"flaky\","
                       "event_type=\"\",outcome=\"error\"} 3"))
      << metrics;
  EXPECT_TRUE(Contains(metrics,
                       "evbus_handler_seconds_count{service=\"evbus\",topic=\"strict\","
                       "event_type=\"\",outcome=\"permanent\"} 1"))
      << metrics;
  Close(*bus);
}

TEST_F(MiddlewareTest, TimingFillsAHistogramPerTopicEventTypeAndOutcome) {
  Config config = MemoryConfig(UniqueName("mw-timing"));
  config.service_name = "billing";
  config.subscriber.retry.max_attempts = 1;
  auto bus = NewBus(config);
  ASSERT_TRUE(bus);
  SubscribeOptions options;
  options.middleware = {middleware::Timing()};
  Signal signal;
  int calls = 0;
  ASSERT_OK(bus->SubscribeEnvelope(
      "orders",
      [&](const Envelope& e, const Delivery&) {
        signal.Update([&] { ++calls; });
        return e.event_type == "OrderVoided" ? Status(ErrorCode::kHandlerFailed, "void failed")
                                             : Status();
      },
      options));
  ASSERT_OK(bus->Start());
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK(bus->PublishEnvelope(
        "orders", NewEnvelope("order:" + std::to_string(i), "OrderPlaced", 1, R"({"n":1})")));
  }
  ASSERT_OK(bus->PublishEnvelope("orders", NewEnvelope("order:9", "OrderVoided", 1, "{}")));
  ASSERT_TRUE(signal.WaitUntil([&] { return calls == 4; }));
  const std::string labels = "service=\"billing\",topic=\"orders\",event_type=";
  // Observed just after each handler returns, on its own worker: wait for all four.
  EXPECT_TRUE(Eventually([&] {
    const std::string text = bus->MetricsText();
    return Contains(text, "evbus_handler_seconds_count{" + labels +
                              "\"OrderVoided\",outcome=\"error\"} 1") &&
           Contains(text,
                    "evbus_handler_seconds_count{" + labels + "\"OrderPlaced\",outcome=\"ok\"} 3");
  })) << bus->MetricsText();
  const std::string metrics = bus->MetricsText();
  EXPECT_TRUE(Contains(metrics, "# TYPE evbus_handler_seconds histogram")) << metrics;
  EXPECT_TRUE(Contains(
      metrics, "evbus_handler_seconds_count{" + labels + "\"OrderPlaced\",outcome=\"ok\"} 3"))
      << metrics;
  EXPECT_TRUE(Contains(metrics, "evbus_handler_seconds_bucket{" + labels +
                                    "\"OrderPlaced\",outcome=\"ok\",le=\"+Inf\"} 3"))
      << metrics;
  Close(*bus);
}

// A handler's own exception type, to see it named in the dead letter.
struct OrderRejected : std::runtime_error {
  using std::runtime_error::runtime_error;
};

TEST_F(MiddlewareTest, RecovererNamesTheExceptionTypeInTheDeadLetterAndItsCallback) {
  Config config = MemoryConfig(UniqueName("mw-recover"));
  config.subscriber.retry.max_attempts = 2;
  auto bus = NewBus(config);
  ASSERT_TRUE(bus);
  Signal signal;
  std::vector<std::string> reported;
  ASSERT_OK(bus->Use(middleware::Recoverer([&](const Message& m, const Status& failure) {
    const std::string text = m.record.topic + " " + failure.ToString();
    signal.Update([&] { reported.push_back(text); });
  })));
  ASSERT_OK(bus->Subscribe("orders", [&](const Record&, const Delivery&) -> Status {
    throw OrderRejected("order 7 has no lines");
  }));
  // Without a Recoverer the bus still catches, with only what().
  ASSERT_OK(bus->Subscribe("plain", [&](const Record&, const Delivery&) -> Status {
    throw OrderRejected("order 8 has no lines");
  }));
  DeadLetters dlq;
  ASSERT_OK(bus->Subscribe("orders.dlq", dlq.Handler()));
  ASSERT_OK(bus->Start());
  PublishRecord(*bus, "orders", "order:7", "p");
  ASSERT_TRUE(dlq.WaitFor(1));
  const std::string expected =
      "HandlerFailed: handler threw evbus::test::(anonymous namespace)::OrderRejected: order 7 "
      "has no lines";
  EXPECT_EQ(dlq.Header(0, "X-Error"), expected);
  EXPECT_EQ(dlq.Header(0, "X-Attempts"), "2");
  ASSERT_TRUE(signal.WaitUntil([&] { return reported.size() == 2; }));
  {
    std::lock_guard<std::mutex> lock(signal.mutex());
    EXPECT_EQ(reported[0], "orders " + expected);
    EXPECT_EQ(reported[1], "orders " + expected);
  }
  Close(*bus);
}

TEST_F(MiddlewareTest, RecovererNamesWhatIsNotAStdException) {
  Config config = MemoryConfig(UniqueName("mw-recover-int"));
  config.subscriber.retry.max_attempts = 1;
  auto bus = NewBus(config);
  ASSERT_TRUE(bus);
  SubscribeOptions options;
  options.middleware = {middleware::Recoverer()};
  ASSERT_OK(bus->Subscribe(
      "orders", [&](const Record&, const Delivery&) -> Status { throw 42; }, options));
  DeadLetters dlq;
  ASSERT_OK(bus->Subscribe("orders.dlq", dlq.Handler()));
  ASSERT_OK(bus->Start());
  PublishRecord(*bus, "orders", "k", "p");
  ASSERT_TRUE(dlq.WaitFor(1));
  EXPECT_EQ(dlq.Header(0, "X-Error"), "HandlerFailed: handler threw int");
  Close(*bus);
}

TEST_F(MiddlewareTest, CorrelationIdReachesWhatTheHandlerPublishes) {
  ExpectCorrelationIdFlowsThroughTheBroker(MemoryConfig(UniqueName("mw-corr")), "corr");
}

TEST_F(MiddlewareTest, CorrelationIdFromTheHeaderOrNewAndNeverOverwritten) {
  auto bus = NewBus(MemoryConfig(UniqueName("mw-corr-raw")));
  ASSERT_TRUE(bus);
  ASSERT_OK(bus->Use(middleware::CorrelationId()));
  ASSERT_OK(bus->Subscribe("in", [&](const Record& r, const Delivery&) {
    // Downstream: one envelope without a correlation id, one with its own.
    Envelope plain = NewEnvelope("a:" + r.key, "Derived", 1, "{}");
    Envelope own = NewEnvelope("b:" + r.key, "Derived", 1, "{}");
    own.correlation_id = "explicit";
    if (Status s = bus->PublishEnvelope("out", plain); !s.ok()) return s;
    return bus->PublishEnvelope("out", own);
  }));
  Signal signal;
  std::map<std::string, std::string> by_aggregate;  // aggregate id -> correlation id
  ASSERT_OK(bus->SubscribeEnvelope("out", [&](const Envelope& e, const Delivery&) {
    signal.Update([&] { by_aggregate[e.aggregate_id] = e.correlation_id; });
    return Status();
  }));
  ASSERT_OK(bus->Start());
  PublishRecord(*bus, "in", "1", "p", {{"X-Correlation-ID", "from-header"}});
  PublishRecord(*bus, "in", "2", "p");  // none: the middleware makes one
  ASSERT_TRUE(signal.WaitUntil([&] { return by_aggregate.size() == 4; }));
  {
    std::lock_guard<std::mutex> lock(signal.mutex());
    EXPECT_EQ(by_aggregate["a:1"], "from-header");
    EXPECT_EQ(by_aggregate["b:1"], "explicit");
    EXPECT_EQ(by_aggregate["b:2"], "explicit");
    EXPECT_EQ(by_aggregate["a:2"].size(), 36u) << "a new UUID: " << by_aggregate["a:2"];
  }
  Close(*bus);
}

TEST_F(MiddlewareTest, InternalHealthCheckSubscriptionIsNotWrapped) {
  Config config = MemoryConfig(UniqueName("mw-health"));
  config.health_check.enabled = true;
  config.health_check.interval = 20ms;
  config.health_check.timeout = 10ms;
  auto bus = NewBus(config);
  ASSERT_TRUE(bus);
  // Would settle every message unhandled, the health monitor's too, if it wrapped it.
  ASSERT_OK(bus->Use(middleware::TypeFilter({"OrderPlaced"})));
  ASSERT_OK(bus->Start());
  EXPECT_TRUE(Eventually([&] { return bus->health().health_monitor.received >= 1; }));
  EXPECT_FALSE(Contains(bus->MetricsText(), "evbus_filtered_total{"));
  Close(*bus);
}

TEST_F(MiddlewareTest, TypeFilterSkipsOtherTypesAndCountsThem) {
  Config config = MemoryConfig(UniqueName("mw-filter"));
  auto bus = NewBus(config);
  ASSERT_TRUE(bus);
  SubscribeOptions envelopes;
  envelopes.middleware = {middleware::TypeFilter({"OrderPlaced", "OrderPaid"})};
  Signal signal;
  std::multiset<std::string> handled;
  ASSERT_OK(bus->SubscribeEnvelope(
      "orders",
      [&](const Envelope& e, const Delivery&) {
        signal.Update([&] { handled.insert(e.event_type); });
        return Status();
      },
      envelopes));
  // Raw records: typed by X-Event-Type, else the CloudEvents ce_type / ce-type.
  SubscribeOptions records;
  records.middleware = {middleware::TypeFilter({"com.example.order.placed", "Order Placé"})};
  ASSERT_OK(bus->Subscribe(
      "raw",
      [&](const Record& r, const Delivery&) {
        signal.Update([&] { handled.insert("raw:" + r.payload); });
        return Status();
      },
      records));
  ASSERT_OK(bus->Start());
  for (const char* type : {"OrderPlaced", "OrderCancelled", "OrderPaid", "OrderCancelled"}) {
    ASSERT_OK(bus->PublishEnvelope("orders", NewEnvelope("order:1", type, 1, "{}")));
  }
  PublishRecord(*bus, "raw", "k", "x", {{"X-Event-Type", "com.example.order.placed"}});
  PublishRecord(*bus, "raw", "k", "kafka", {{"ce_type", "com.example.order.placed"}});
  PublishRecord(*bus, "raw", "k", "nats", {{"ce-type", "com.example.order.placed"}});
  PublishRecord(*bus, "raw", "k", "other", {{"ce-type", "com.example.order.voided"}});
  // The NATS binding percent-encodes header values: the filter sees the type itself.
  PublishRecord(*bus, "raw", "k", "encoded", {{"ce-type", "Order%20Plac%C3%A9"}});
  PublishRecord(*bus, "raw", "k", "untyped");
  // All ten are settled, the filtered ones without the handler.
  ASSERT_TRUE(Eventually([&] { return bus->stats().handled == 10; }));
  {
    std::lock_guard<std::mutex> lock(signal.mutex());
    EXPECT_EQ(handled, (std::multiset<std::string>{"OrderPlaced", "OrderPaid", "raw:x", "raw:kafka",
                                                   "raw:nats", "raw:encoded"}));
  }
  const std::string metrics = bus->MetricsText();
  const std::string svc = "evbus_filtered_total{service=\"evbus\",";
  EXPECT_TRUE(Contains(metrics, svc + "topic=\"orders\",event_type=\"OrderCancelled\"} 2"))
      << metrics;
  EXPECT_TRUE(Contains(metrics, svc + "topic=\"raw\",event_type=\"com.example.order.voided\"} 1"))
      << metrics;
  EXPECT_TRUE(Contains(metrics, svc + "topic=\"raw\",event_type=\"\"} 1")) << metrics;
  Close(*bus);
}

TEST_F(MiddlewareTest, BadMiddlewareIsRefusedNamingIt) {
  auto bus = NewBus(MemoryConfig(UniqueName("mw-bad")));
  ASSERT_TRUE(bus);
  const auto noop = [](const Record&, const Delivery&) { return Status(); };
  Status s = bus->Use(nullptr);
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument) << s.ToString();
  SubscribeOptions null_entry;
  null_entry.middleware = {middleware::Timing(), nullptr};
  s = bus->Subscribe("orders", noop, null_entry);
  EXPECT_EQ(s.ToString(), "InvalidArgument: subscribe to orders: middleware[1] is null");
  // A middleware that returns no handler is found when the chain is built.
  SubscribeOptions broken;
  broken.middleware = {[](MessageHandler) { return MessageHandler(); }};
  ASSERT_OK(bus->Subscribe("orders", noop, broken));
  s = bus->Start();
  EXPECT_EQ(s.ToString(),
            "InvalidArgument: subscription orders: SubscribeOptions::middleware[0] returned a "
            "null handler");
  Close(*bus);
}

TEST_F(MiddlewareTest, UseAfterStartFailsNamingIt) {
  auto bus = NewBus(MemoryConfig(UniqueName("mw-use-late")));
  ASSERT_TRUE(bus);
  ASSERT_OK(bus->Subscribe("orders", [](const Record&, const Delivery&) { return Status(); }));
  ASSERT_OK(bus->Start());
  const Status s = bus->Use(middleware::Timing());
  EXPECT_EQ(s.code(), ErrorCode::kFailedPrecondition);
  EXPECT_TRUE(Contains(s.ToString(), "Use(middleware) must be called before Start()"))
      << s.ToString();
  Close(*bus);
}

}  // namespace
}  // namespace evbus::test
