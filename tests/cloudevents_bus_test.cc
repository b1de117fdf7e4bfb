// CloudEvents through a bus, on memory, Kafka and NATS: PublishEnvelope on a
// topic configured for either mode writes that mode's record and arrives at
// SubscribeEnvelope whole; CloudEvents written by another producer (binary
// and structured, by hand) are consumed as Envelopes, and a bad one is poison
// naming the attribute. T1 is checked by the fixture.

#include <map>

#include "conformance.h"
#include "evbus/cloudevents.h"
#ifdef EVBUS_WITH_NATS
#include "nats_support.h"
#endif

namespace evbus::test {
namespace {

class CloudEventsBusTest : public ConformanceTest {
 protected:
  bool nats() const { return MakeConfig().transport == TransportKind::kNats; }
  std::string Prefix() const { return nats() ? "ce-" : "ce_"; }
  // The header that carries the content type of a structured event.
  std::string ContentTypeHeader() const { return nats() ? "Content-Type" : "content-type"; }
};

struct Received {
  Envelope envelope;
  Record record;
};

Envelope FullEnvelope(const std::string& aggregate, int64_t version) {
  Envelope e =
      NewEnvelope(aggregate, "OrderUpdated", version, R"({"amount":763.20,"items":[1,2]})");
  e.timestamp = *ParseRfc3339("2025-10-13T20:25:08.406123+08:00");
  e.trace_id = "trace-" + aggregate;
  e.correlation_id = "corr-" + aggregate;
  e.tenant_id = 42;
  return e;
}

// Handlers for `topics` that keep every envelope with its record, by event id.
void CollectInto(EventBus& bus, const std::vector<std::string>& topics, Signal& signal,
                 std::map<std::string, Received>& received) {
  for (const std::string& topic : topics) {
    ASSERT_OK(bus.SubscribeEnvelope(topic, [&](const Envelope& e, const Delivery& d) {
      signal.Update([&] { received[e.event_id] = {e, d.record}; });
      return Status();
    }));
  }
}

TEST_P(CloudEventsBusTest, EachFormatArrivesAsTheEnvelopePublished) {
  Config config = MakeConfig();
  config.service_name = "orders-service";
  const std::string binary = Topic("ce-binary");
  const std::string structured = Topic("ce-structured");
  config.topics[binary].format = EventFormat::kCloudEventsBinary;
  config.topics[structured].format = EventFormat::kCloudEventsStructured;
  const Envelope to_binary = FullEnvelope("order:1", 3);
  const Envelope to_structured = FullEnvelope("order:2", 5);

  Signal signal;
  std::map<std::string, Received> received;
  auto bus = NewBus(config);
  ASSERT_NE(bus, nullptr);
  CollectInto(*bus, {binary, structured}, signal, received);
  ASSERT_OK(bus->Start());
  ASSERT_OK(bus->PublishEnvelope(binary, to_binary));
  ASSERT_OK(bus->PublishEnvelope(structured, to_structured));
  ASSERT_TRUE(signal.WaitUntil([&] { return received.size() == 2; })) << received.size();
  ASSERT_TRUE(bus->Close().ok());
  bus.reset();
  ExpectThreadsAtBaseline();  // T1, at once after Close

  // Binary mode: attributes in headers, the payload as is.
  const Received& b = received.at(to_binary.event_id);
  EXPECT_EQ(b.envelope, to_binary);
  const Record& r = b.record;
  EXPECT_EQ(r.key, "order:1");
  EXPECT_EQ(r.payload, to_binary.payload);
  const std::map<std::string, std::string> attributes = {
      {"specversion", "1.0"},
      {"id", to_binary.event_id},
      {"source", "orders-service"},
      {"type", "OrderUpdated"},
      {"subject", "order:1"},
      {"time", "2025-10-13T20:25:08.406123+08:00"},
      {"partitionkey", "order:1"},
      {"eventversion", "3"},
      {"traceid", "trace-order:1"},
      {"correlationid", "corr-order:1"},
      {"tenantid", "42"}};
  for (const auto& [name, value] : attributes) {
    // Printable ASCII all: the same bytes under NATS's percent-encoding.
    EXPECT_EQ(FindHeader(r.headers, Prefix() + name), value) << name;
  }
  EXPECT_EQ(FindHeader(r.headers, nats() ? "ce-datacontenttype" : "content-type"),
            "application/json");
  EXPECT_EQ(FindHeader(r.headers, "X-Event-ID"), std::nullopt);  // not the envelope format
  EXPECT_EQ(DetectCloudEvent(r.headers), CloudEventMode::kBinary);

  // Structured mode: the JSON event format, JSON data embedded.
  const Received& s = received.at(to_structured.event_id);
  EXPECT_EQ(s.envelope, to_structured);
  EXPECT_EQ(s.record.key, "order:2");
  EXPECT_EQ(FindHeader(s.record.headers, ContentTypeHeader()), kCloudEventsJson);
  EXPECT_EQ(FindHeader(s.record.headers, Prefix() + "id"), std::nullopt);
  Result<CloudEvent> ce = DecodeCloudEvent(s.record);
  ASSERT_TRUE(ce.ok()) << ce.status().ToString();
  EXPECT_EQ(*ce, CloudEventFromEnvelope(to_structured, "orders-service"));
  EXPECT_NE(s.record.payload.find(R"("data":{"amount":763.20,"items":[1,2]})"), std::string::npos)
      << s.record.payload;
}

TEST_P(CloudEventsBusTest, ForeignCloudEventsAreConsumedAsEnvelopes) {
  Config config = MakeConfig();
  const std::string topic = Topic("ce-foreign");  // no format configured: any record decodes
  const std::string dlq = topic + config.subscriber.dead_letter_suffix;

  // As another producer writes them, for this transport's binding.
  Record binary;
  binary.topic = topic;
  binary.key = "order-7";
  binary.headers = {
      {Prefix() + "specversion", "1.0"},
      {Prefix() + "id", "foreign-bin"},
      {Prefix() + "source", nats() ? "https://example.com/a%20shop" : "https://example.com/a shop"},
      {Prefix() + "type", "com.example.order.placed"},
      {Prefix() + "subject", "order-7"},
      {Prefix() + "time", "2018-04-05T17:31:00Z"},
      {nats() ? "ce-datacontenttype" : "content-type", "application/xml"}};
  binary.payload = R"(<order id="7"/>)";
  Record structured;
  structured.topic = topic;
  structured.key = "order-8";
  structured.headers = {{ContentTypeHeader(), "application/cloudevents+json; charset=UTF-8"}};
  structured.payload = R"({"specversion":"1.0","id":"foreign-json","source":"/shop",)"
                       R"("type":"com.example.order.paid","partitionkey":"order-8",)"
                       R"("eventversion":2,"correlationid":"c-8","data":{"total":3.50}})";
  Record poison = binary;
  poison.headers.erase(poison.headers.begin() + 1);  // no id

  Signal signal;
  std::map<std::string, Received> received;
  std::vector<Record> dead;
  auto bus = NewBus(config);
  ASSERT_NE(bus, nullptr);
  CollectInto(*bus, {topic}, signal, received);
  ASSERT_OK(bus->Subscribe(dlq, [&](const Record& r, const Delivery&) {
    signal.Update([&] { dead.push_back(r); });
    return Status();
  }));
  ASSERT_OK(bus->Start());
  for (const Record& r : {binary, structured, poison}) ASSERT_OK(bus->Publish(r));
  ASSERT_TRUE(signal.WaitUntil([&] { return received.size() == 2 && dead.size() == 1; }))
      << received.size() << " envelopes, " << dead.size() << " dead letters";
  ASSERT_TRUE(bus->Close().ok());
  bus.reset();
  ExpectThreadsAtBaseline();  // T1

  const Envelope& b = received.at("foreign-bin").envelope;
  EXPECT_EQ(b.aggregate_id, "order-7");
  EXPECT_EQ(b.event_type, "com.example.order.placed");
  EXPECT_EQ(b.event_version, 1);
  EXPECT_EQ(FormatRfc3339(b.timestamp), "2018-04-05T17:31:00Z");
  EXPECT_EQ(b.payload, R"(<order id="7"/>)");  // not JSON: delivered as its bytes
  const Envelope& s = received.at("foreign-json").envelope;
  EXPECT_EQ(s.aggregate_id, "order-8");  // from partitionkey
  EXPECT_EQ(s.event_version, 2);
  EXPECT_EQ(s.correlation_id, "c-8");
  EXPECT_EQ(s.payload, R"({"total":3.50})");
  EXPECT_NE(s.timestamp, Timestamp{});  // no time: the record's
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(FindHeader(dead[0].headers, "X-Error"), "Poison: id: missing");
}

std::vector<std::string> Transports() {
  std::vector<std::string> names;
  for (const TransportUnderTest& t : ConformanceTransports()) {
    if (t.name == "memory" || t.name == "kafka" || t.name == "nats") names.push_back(t.name);
  }
  return names;
}

INSTANTIATE_TEST_SUITE_P(Transports, CloudEventsBusTest, ::testing::ValuesIn(Transports()),
                         [](const ::testing::TestParamInfo<std::string>& param) {
                           return param.param;
                         });

#ifdef EVBUS_WITH_NATS
class CloudEventsNatsTest : public ServerTest {
 protected:
  CloudEventsNatsTest() : ServerTest("cenats", NatsTestUnavailable, NatsTestConfig) {}
};

// JetStream de-duplicates CloudEvents by event id, as it does envelopes.
TEST_F(CloudEventsNatsTest, ARepublishedEventIsStoredOnce) {
  const std::string topic = unique_ + "-dedup";
  config_.topics[topic].format = EventFormat::kCloudEventsBinary;
  const Envelope first = NewEnvelope("order-1", "OrderPlaced", 1, "{}");
  const Envelope second = NewEnvelope("order-1", "OrderPaid", 2, "{}");
  Signal signal;
  std::vector<std::string> ids;
  auto bus = NewBus(config_);
  ASSERT_NE(bus, nullptr);
  ASSERT_OK(bus->SubscribeEnvelope(topic, [&](const Envelope& e, const Delivery& d) {
    EXPECT_EQ(FindHeader(d.record.headers, "Nats-Msg-Id"), std::nullopt);
    signal.Update([&] { ids.push_back(e.event_id); });
    return Status();
  }));
  ASSERT_OK(bus->Start());
  for (const Envelope* e : {&first, &first, &second}) ASSERT_OK(bus->PublishEnvelope(topic, *e));
  // One aggregate, one partition, in order: a stored duplicate would come before `second`.
  ASSERT_TRUE(signal.WaitUntil([&] { return !ids.empty() && ids.back() == second.event_id; }));
  ASSERT_TRUE(bus->Close().ok());
  bus.reset();
  ExpectThreadsAtBaseline();  // T1
  EXPECT_EQ(ids, (std::vector<std::string>{first.event_id, second.event_id}));
}
#endif

}  // namespace
}  // namespace evbus::test
