// CloudEvents 1.0 codec: the examples of the spec (spec.md, formats/json-format.md,
// bindings/kafka-protocol-binding.md and nats-protocol-binding.md) decode to
// the attributes they show and re-encode to the equivalent form; invalid
// events fail naming the attribute; the Envelope mapping both ways.

#include "evbus/cloudevents.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "test_support.h"

namespace evbus {
namespace {

Record MakeRecord(Headers headers, std::string payload, std::string key = "") {
  Record r;
  r.topic = "t";
  r.key = std::move(key);
  r.headers = std::move(headers);
  r.payload = std::move(payload);
  return r;
}

Record Structured(std::string json, std::string content_type = std::string(kCloudEventsJson)) {
  return MakeRecord({{"content-type", std::move(content_type)}}, std::move(json));
}

Headers Sorted(Headers h) {
  std::sort(h.begin(), h.end(), [](const Header& a, const Header& b) {
    return a.key < b.key || (a.key == b.key && a.value < b.value);
  });
  return h;
}

Timestamp At(std::string_view rfc3339) {
  Result<Timestamp> t = ParseRfc3339(rfc3339);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return t.ok() ? *t : Timestamp{};
}

CloudEvent Decode(const Record& r) {
  Result<CloudEvent> e = DecodeCloudEvent(r);
  EXPECT_TRUE(e.ok()) << e.status().ToString();
  return e.ok() ? *e : CloudEvent{};
}

Record Encode(const CloudEvent& e, CloudEventMode mode, CloudEventBinding binding) {
  Record r;
  Status s = EncodeCloudEvent(e, mode, binding, r);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return r;
}

// Re-encoded in every mode and binding, the event decodes to itself.
void ExpectRoundTrips(const CloudEvent& e) {
  for (CloudEventMode mode : {CloudEventMode::kBinary, CloudEventMode::kStructured}) {
    for (CloudEventBinding binding : {CloudEventBinding::kKafka, CloudEventBinding::kNats}) {
      EXPECT_EQ(Decode(Encode(e, mode, binding)), e)
          << "mode " << static_cast<int>(mode) << " binding " << static_cast<int>(binding);
    }
  }
}

// The message of a decoding failure (kPoison), or "" when it decoded.
std::string DecodeError(const Record& r) {
  Result<CloudEvent> e = DecodeCloudEvent(r);
  EXPECT_FALSE(e.ok()) << "decoded: " << r.payload;
  if (e.ok()) return "";
  EXPECT_EQ(e.status().code(), ErrorCode::kPoison) << e.status().ToString();
  return e.status().message();
}

// ------------------------------------------------------------ spec examples

// spec.md, "Example".
TEST(CloudEventsSpec, CoreSpecExampleWithXmlStringData) {
  const CloudEvent e = Decode(Structured(R"({
    "specversion" : "1.0",
    "type" : "com.github.pull_request.opened",
    "source" : "https://github.com/cloudevents/spec/pull",
    "subject" : "123",
    "id" : "A234-1234-1234",
    "time" : "2018-04-05T17:31:00Z",
    "comexampleextension1" : "value",
    "comexampleothervalue" : 5,
    "datacontenttype" : "text/xml",
    "data" : "<much wow=\"xml\"/>"
})"));
  EXPECT_EQ(e.specversion, "1.0");
  EXPECT_EQ(e.type, "com.github.pull_request.opened");
  EXPECT_EQ(e.source, "https://github.com/cloudevents/spec/pull");
  EXPECT_EQ(e.subject, "123");
  EXPECT_EQ(e.id, "A234-1234-1234");
  EXPECT_EQ(e.time, At("2018-04-05T17:31:00Z"));
  EXPECT_EQ(e.datacontenttype, "text/xml");
  EXPECT_EQ(e.data, "<much wow=\"xml\"/>");
  const std::map<std::string, std::string> ext = {{"comexampleextension1", "value"},
                                                  {"comexampleothervalue", "5"}};
  EXPECT_EQ(e.extensions, ext);
  ExpectRoundTrips(e);
}

// json-format.md 3.2, the Binary-valued data example and its binary-mode
// form (the spec's "... base64 encoded string ..." made real: 80 01 00 01).
TEST(CloudEventsSpec, JsonFormatBinaryDataAndItsBinaryModeForm) {
  const CloudEvent e = Decode(Structured(R"({
    "specversion" : "1.0",
    "type" : "com.example.someevent",
    "source" : "/mycontext",
    "id" : "A234-1234-1234",
    "time" : "2018-04-05T17:31:00Z",
    "comexampleextension1" : "value",
    "comexampleothervalue" : 5,
    "datacontenttype" : "application/vnd.apache.thrift.binary",
    "data_base64" : "gAEAAQ=="
})"));
  EXPECT_EQ(e.data, std::string("\x80\x01\x00\x01", 4));
  const Record binary = Encode(e, CloudEventMode::kBinary, CloudEventBinding::kKafka);
  const Headers expected = {{"ce_specversion", "1.0"},
                            {"ce_type", "com.example.someevent"},
                            {"ce_source", "/mycontext"},
                            {"ce_id", "A234-1234-1234"},
                            {"ce_time", "2018-04-05T17:31:00Z"},
                            {"ce_comexampleextension1", "value"},
                            {"ce_comexampleothervalue", "5"},
                            {"content-type", "application/vnd.apache.thrift.binary"}};
  EXPECT_EQ(Sorted(binary.headers), Sorted(expected));
  EXPECT_EQ(binary.payload, std::string("\x80\x01\x00\x01", 4));  // the raw bytes
  // Structured again: not JSON, so data_base64.
  const Record structured = Encode(e, CloudEventMode::kStructured, CloudEventBinding::kKafka);
  EXPECT_NE(structured.payload.find("\"data_base64\":\"gAEAAQ==\""), std::string::npos)
      << structured.payload;
  ExpectRoundTrips(e);
}

// json-format.md 3.2, XML as a string; null is unset.
TEST(CloudEventsSpec, JsonFormatXmlStringDataAndItsBinaryModeForm) {
  const CloudEvent e = Decode(Structured(R"({
    "specversion" : "1.0",
    "type" : "com.example.someevent",
    "source" : "/mycontext",
    "id" : "B234-1234-1234",
    "time" : "2018-04-05T17:31:00Z",
    "comexampleextension1" : "value",
    "comexampleothervalue" : 5,
    "unsetextension": null,
    "datacontenttype" : "application/xml",
    "data" : "<much wow=\"xml\"/>"
})"));
  EXPECT_EQ(e.extensions.count("unsetextension"), 0u);
  const Record binary = Encode(e, CloudEventMode::kBinary, CloudEventBinding::kKafka);
  EXPECT_EQ(FindHeader(binary.headers, "content-type"), "application/xml");
  EXPECT_EQ(FindHeader(binary.headers, "ce_id"), "B234-1234-1234");
  EXPECT_EQ(binary.payload, "<much wow=\"xml\"/>");
  ExpectRoundTrips(e);
}

// json-format.md 3.2, JSON object data: kept as the exact bytes received.
TEST(CloudEventsSpec, JsonFormatJsonObjectDataKeepsItsBytes) {
  const std::string object = R"({
        "appinfoA" : "abc",
        "appinfoB" : 123,
        "appinfoC" : true
    })";
  const CloudEvent e = Decode(Structured(R"({
    "specversion" : "1.0",
    "type" : "com.example.someevent",
    "source" : "/mycontext",
    "subject": null,
    "id" : "C234-1234-1234",
    "time" : "2018-04-05T17:31:00Z",
    "comexampleextension1" : "value",
    "comexampleothervalue" : 5,
    "datacontenttype" : "application/json",
    "data" : )" + object + "\n}"));
  EXPECT_EQ(e.subject, "");  // null: unset
  EXPECT_EQ(e.data, object);
  const Record binary = Encode(e, CloudEventMode::kBinary, CloudEventBinding::kKafka);
  EXPECT_EQ(FindHeader(binary.headers, "content-type"), "application/json");
  EXPECT_EQ(binary.payload, object);
  const Record structured = Encode(e, CloudEventMode::kStructured, CloudEventBinding::kKafka);
  EXPECT_NE(structured.payload.find("\"data\":" + object + "}"), std::string::npos)
      << structured.payload;
  ExpectRoundTrips(e);
}

// json-format.md 3.2, a JSON string without datacontenttype: application/json
// made explicit, and the binary form's payload is the quoted string.
TEST(CloudEventsSpec, JsonFormatStringDataWithoutContentTypeIsJson) {
  const CloudEvent e = Decode(Structured(R"({
    "specversion" : "1.0",
    "type" : "com.example.someevent",
    "source" : "/mycontext",
    "subject": null,
    "id" : "D234-1234-1234",
    "time" : "2018-04-05T17:31:00Z",
    "comexampleextension1" : "value",
    "comexampleothervalue" : 5,
    "data" : "I'm just a string"
})"));
  EXPECT_EQ(e.datacontenttype, "application/json");
  const Record binary = Encode(e, CloudEventMode::kBinary, CloudEventBinding::kKafka);
  EXPECT_EQ(FindHeader(binary.headers, "content-type"), "application/json");
  EXPECT_EQ(binary.payload, "\"I'm just a string\"");
  ExpectRoundTrips(e);
}

// kafka-protocol-binding.md 3.2.5: ce_ headers, content-type, the key untouched.
TEST(CloudEventsSpec, KafkaBinaryModeExample) {
  const Headers headers = {{"ce_specversion", "1.0"},
                           {"ce_type", "com.example.someevent"},
                           {"ce_source", "/mycontext/subcontext"},
                           {"ce_id", "1234-1234-1234"},
                           {"ce_time", "2018-04-05T03:56:24Z"},
                           {"content-type", "application/avro"}};
  const std::string avro(
      "\x02\x06"
      "abc",
      5);
  const Record r = MakeRecord(headers, avro, "mykey");
  EXPECT_EQ(DetectCloudEvent(r.headers), CloudEventMode::kBinary);
  const CloudEvent e = Decode(r);
  EXPECT_EQ(e.type, "com.example.someevent");
  EXPECT_EQ(e.source, "/mycontext/subcontext");
  EXPECT_EQ(e.id, "1234-1234-1234");
  EXPECT_EQ(e.time, At("2018-04-05T03:56:24Z"));
  EXPECT_EQ(e.datacontenttype, "application/avro");
  EXPECT_EQ(e.data, avro);
  const Record again = Encode(e, CloudEventMode::kBinary, CloudEventBinding::kKafka);
  EXPECT_EQ(Sorted(again.headers), Sorted(headers));
  EXPECT_EQ(again.payload, avro);
}

// kafka-protocol-binding.md 3.3.4: the media type with a parameter.
TEST(CloudEventsSpec, KafkaStructuredModeExample) {
  const Record r = Structured(R"({
    "specversion" : "1.0",
    "type" : "com.example.someevent",
    "source" : "/mycontext/subcontext",
    "id" : "1234-1234-1234",
    "time" : "2018-04-05T03:56:24Z",
    "datacontenttype" : "application/xml",
    "data" : "<order id=\"1\"/>"
})",
                              "application/cloudevents+json; charset=UTF-8");
  EXPECT_EQ(DetectCloudEvent(r.headers), CloudEventMode::kStructured);
  const CloudEvent e = Decode(r);
  EXPECT_EQ(e.id, "1234-1234-1234");
  EXPECT_EQ(e.datacontenttype, "application/xml");
  EXPECT_EQ(e.data, "<order id=\"1\"/>");
  const Record again = Encode(e, CloudEventMode::kStructured, CloudEventBinding::kKafka);
  EXPECT_EQ(FindHeader(again.headers, "content-type"), kCloudEventsJson);
  ExpectRoundTrips(e);
}

// nats-protocol-binding.md 3.1.4: ce- headers, datacontenttype among them.
TEST(CloudEventsSpec, NatsBinaryModeExample) {
  const Headers headers = {{"ce-specversion", "1.0"},
                           {"ce-type", "com.example.someevent"},
                           {"ce-time", "2018-04-05T03:56:24Z"},
                           {"ce-id", "1234-1234-1234"},
                           {"ce-source", "/mycontext/subcontext"},
                           {"ce-datacontenttype", "application/json"}};
  const std::string data = R"({"appinfo":"abc"})";
  const CloudEvent e = Decode(MakeRecord(headers, data));
  EXPECT_EQ(e.type, "com.example.someevent");
  EXPECT_EQ(e.source, "/mycontext/subcontext");
  EXPECT_EQ(e.datacontenttype, "application/json");
  EXPECT_EQ(e.data, data);
  const Record again = Encode(e, CloudEventMode::kBinary, CloudEventBinding::kNats);
  EXPECT_EQ(Sorted(again.headers), Sorted(headers));
  EXPECT_EQ(again.payload, data);
}

// nats-protocol-binding.md 3.2.1, with the Content-Type header of 3.
TEST(CloudEventsSpec, NatsStructuredModeExample) {
  const Record r = MakeRecord({{"Content-Type", "application/cloudevents+json"}}, R"({
    "specversion" : "1.0",
    "type" : "com.example.someevent",
    "source" : "/mycontext",
    "id" : "N-1",
    "data" : {"appinfo" : "abc"}
})");
  EXPECT_EQ(DetectCloudEvent(r.headers), CloudEventMode::kStructured);
  const CloudEvent e = Decode(r);
  EXPECT_EQ(e.datacontenttype, "application/json");  // implied, made explicit
  EXPECT_EQ(e.data, R"({"appinfo" : "abc"})");
  const Record again = Encode(e, CloudEventMode::kStructured, CloudEventBinding::kNats);
  EXPECT_EQ(FindHeader(again.headers, "Content-Type"), kCloudEventsJson);
  ExpectRoundTrips(e);
}

// nats-protocol-binding.md 3.1.3.2: "Euro € 😀" and its percent-encoded form.
TEST(CloudEventsSpec, NatsHeaderValuesArePercentEncoded) {
  CloudEvent e;
  e.id = "1";
  e.source = "/s";
  e.type = "t";
  e.subject = "Euro \xE2\x82\xAC \xF0\x9F\x98\x80";
  const Record r = Encode(e, CloudEventMode::kBinary, CloudEventBinding::kNats);
  EXPECT_EQ(FindHeader(r.headers, "ce-subject"), "Euro%20%E2%82%AC%20%F0%9F%98%80");
  EXPECT_EQ(Decode(r), e);
  // Kafka headers carry UTF-8 as is.
  const Record k = Encode(e, CloudEventMode::kBinary, CloudEventBinding::kKafka);
  EXPECT_EQ(FindHeader(k.headers, "ce_subject"), e.subject);
  // Decoding: lower-case hex, unnecessary escapes, double-quoted values (older
  // senders), and header names in any case.
  const CloudEvent quoted = Decode(MakeRecord({{"CE-SpecVersion", "1.0"},
                                               {"ce-id", "%31"},
                                               {"ce-source", "\"/a b\""},
                                               {"ce-type", "t%c3%a9"}},
                                              ""));
  EXPECT_EQ(quoted.id, "1");
  EXPECT_EQ(quoted.source, "/a b");
  EXPECT_EQ(quoted.type, "t\xC3\xA9");
  // An overlong encoding of U+0020 is rejected, naming the attribute.
  EXPECT_NE(DecodeError(MakeRecord({{"ce-specversion", "1.0"},
                                    {"ce-id", "1"},
                                    {"ce-source", "/s"},
                                    {"ce-type", "%C0%A0"}},
                                   ""))
                .find("type: percent-decodes to invalid UTF-8"),
            std::string::npos);
}

TEST(CloudEventsSpec, DetectsTheModeFromTheHeaders) {
  EXPECT_EQ(DetectCloudEvent({{"X-Event-ID", "1"}, {"X-Aggregate-ID", "a"}}), std::nullopt);
  EXPECT_EQ(DetectCloudEvent({{"content-type", "application/json"}}), std::nullopt);
  EXPECT_EQ(DetectCloudEvent({{"ce_specversion", "1.0"}}), CloudEventMode::kBinary);
  EXPECT_EQ(DetectCloudEvent({{"Ce-Specversion", "1.0"}}), CloudEventMode::kBinary);
  EXPECT_EQ(DetectCloudEvent({{"CONTENT-TYPE", "Application/CloudEvents+JSON"}}),
            CloudEventMode::kStructured);
  // The binding's rule: a CloudEvents content-type means structured, even
  // with binary-mode headers beside it.
  EXPECT_EQ(DetectCloudEvent(
                {{"ce_specversion", "1.0"}, {"content-type", std::string(kCloudEventsJson)}}),
            CloudEventMode::kStructured);
}

// ------------------------------------------------------------ invalid events

constexpr char kValidHead[] = R"("specversion":"1.0","source":"/s","type":"t")";

TEST(CloudEventsInvalid, MissingIdIsNamed) {
  EXPECT_EQ(DecodeError(Structured(std::string("{") + kValidHead + "}")), "id: missing");
  EXPECT_EQ(DecodeError(MakeRecord(
                {{"ce_specversion", "1.0"}, {"ce_source", "/s"}, {"ce_type", "t"}}, "x")),
            "id: missing");
  EXPECT_EQ(DecodeError(Structured(R"({"specversion":"1.0","id":null,"source":"/s","type":"t"})")),
            "id: missing");
}

TEST(CloudEventsInvalid, UnsupportedSpecVersionIsNamed) {
  EXPECT_EQ(DecodeError(Structured(R"({"specversion":"0.3","id":"1","source":"/s","type":"t"})")),
            "specversion: \"0.3\" is not supported (only 1.0)");
  EXPECT_EQ(DecodeError(Structured(R"({"id":"1","source":"/s","type":"t"})")),
            "specversion: missing");
  EXPECT_EQ(
      DecodeError(MakeRecord(
          {{"ce_specversion", "2.0"}, {"ce_id", "1"}, {"ce_source", "/s"}, {"ce_type", "t"}}, "x")),
      "specversion: \"2.0\" is not supported (only 1.0)");
}

TEST(CloudEventsInvalid, ExtensionNamesMustBeLowercaseAlphanumeric) {
  EXPECT_EQ(
      DecodeError(Structured(std::string("{") + kValidHead + R"(,"id":"1","comExample":"v"})")),
      "\"comExample\": an attribute name must be lowercase letters a-z and digits 0-9");
  EXPECT_NE(DecodeError(MakeRecord({{"ce_specversion", "1.0"},
                                    {"ce_id", "1"},
                                    {"ce_source", "/s"},
                                    {"ce_type", "t"},
                                    {"ce_Bad_Name", "v"}},
                                   "x"))
                .find("\"Bad_Name\": an attribute name"),
            std::string::npos);
  CloudEvent e;
  e.id = "1";
  e.source = "/s";
  e.type = "t";
  e.extensions["subject"] = "x";
  EXPECT_EQ(ValidateCloudEvent(e).message(), "subject: a core attribute, not an extension");
  e.extensions = {{"data", "x"}};
  EXPECT_EQ(ValidateCloudEvent(e).message(), "data: reserved, not an attribute name");
  e.extensions = {{"", "x"}};
  EXPECT_EQ(ValidateCloudEvent(e).code(), ErrorCode::kInvalidArgument);
}

TEST(CloudEventsInvalid, AttributeValuesOfTheWrongTypeAreNamed) {
  const std::string head = std::string("{") + kValidHead + R"(,"id":"1",)";
  EXPECT_EQ(DecodeError(Structured(head + R"("subject":7})")),
            "subject: expected a string, got a number");
  EXPECT_EQ(DecodeError(Structured(head + R"("subject":""})")), "subject: present but empty");
  EXPECT_EQ(DecodeError(Structured(head + R"("comexampleobj":{"a":1}})")),
            "comexampleobj: expected a string, integer or boolean, got an object");
  EXPECT_EQ(DecodeError(Structured(head + R"("comexamplenum":1.5})")),
            "comexamplenum: a number that is not a 32-bit Integer: 1.5");
  EXPECT_EQ(DecodeError(Structured(head + R"("time":"2018-04-05"})")).substr(0, 6), "time: ");
  EXPECT_EQ(DecodeError(Structured(head + R"("id":"2"})")), "id: duplicate key");
  EXPECT_EQ(DecodeError(Structured(head + R"("datacontenttype":"json"})")),
            "datacontenttype: \"json\" is not a media type (type/subtype)");
  // Booleans and integers become their canonical strings.
  const CloudEvent e = Decode(Structured(head + R"("flag":true,"n":-3})"));
  EXPECT_EQ(e.extensions.at("flag"), "true");
  EXPECT_EQ(e.extensions.at("n"), "-3");
}

TEST(CloudEventsInvalid, DataRulesAreNamed) {
  const std::string head = std::string("{") + kValidHead + R"(,"id":"1",)";
  EXPECT_EQ(DecodeError(Structured(head + R"("data":{},"data_base64":"AA=="})")),
            "data_base64: present together with data (they are mutually exclusive)");
  EXPECT_EQ(DecodeError(Structured(head + R"("data_base64":"%%%"})")),
            "data_base64: not valid standard base64");
  EXPECT_EQ(DecodeError(Structured(head + R"("datacontenttype":"text/plain","data":{"a":1}})")),
            "data: datacontenttype \"text/plain\" is not JSON, so data must be a string (or "
            "data_base64)");
  CloudEvent e;
  e.id = "1";
  e.source = "/s";
  e.type = "t";
  e.datacontenttype = "application/json";
  e.data = "not json";
  Record r;
  Status s = EncodeCloudEvent(e, CloudEventMode::kStructured, CloudEventBinding::kKafka, r);
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(s.message().substr(0, 6), "data: ") << s.ToString();
}

TEST(CloudEventsInvalid, MalformedRecordsAreNamed) {
  EXPECT_EQ(DecodeError(Structured("[1]")), "structured CloudEvent: not a JSON object");
  EXPECT_NE(DecodeError(Structured("{\"id\":")).find("not a valid JSON CloudEvent"),
            std::string::npos);
  EXPECT_NE(DecodeError(Structured(std::string("{") + kValidHead + R"(,"id":"1"} 1)"))
                .find("not a valid JSON CloudEvent"),
            std::string::npos);  // trailing content
  EXPECT_EQ(DecodeError(Structured("{}", "application/cloudevents+avro")),
            "content-type: \"application/cloudevents+avro\": only the JSON event format "
            "(application/cloudevents+json) is supported");
  EXPECT_EQ(DecodeError(MakeRecord({{"ce_specversion", "1.0"},
                                    {"ce_id", "1"},
                                    {"ce_id", "2"},
                                    {"ce_source", "/s"},
                                    {"ce_type", "t"}},
                                   "x")),
            "id: appears in more than one header");
  CloudEvent e;
  e.id = "1";
  e.source = "/s\x01";
  e.type = "t";
  EXPECT_EQ(ValidateCloudEvent(e).message(), "source: control character U+0001 in \"/s\\x01\"");
}

// ------------------------------------------------------------ the Envelope mapping

Envelope FullEnvelope() {
  Envelope e;
  e.event_id = "0192a3b4-c5d6-7e8f-9a0b-1c2d3e4f5a6b";
  e.aggregate_id = "order:1001";
  e.event_type = "OrderUpdated";
  e.event_version = 3;
  e.timestamp = At("2025-10-13T20:25:08.406123+08:00");
  e.trace_id = "trace-1";
  e.correlation_id = "corr-1";
  e.tenant_id = 7;
  e.payload = R"({"amount":763.20})";
  return e;
}

TEST(CloudEventsEnvelope, EnvelopeMapsToTheDocumentedAttributes) {
  const CloudEvent ce = CloudEventFromEnvelope(FullEnvelope(), "orders-service");
  EXPECT_EQ(ce.id, "0192a3b4-c5d6-7e8f-9a0b-1c2d3e4f5a6b");
  EXPECT_EQ(ce.source, "orders-service");
  EXPECT_EQ(ce.type, "OrderUpdated");
  EXPECT_EQ(ce.subject, "order:1001");
  EXPECT_EQ(ce.time, At("2025-10-13T20:25:08.406123+08:00"));
  EXPECT_EQ(ce.datacontenttype, "application/json");
  EXPECT_EQ(ce.data, R"({"amount":763.20})");
  const std::map<std::string, std::string> ext = {{"partitionkey", "order:1001"},
                                                  {"eventversion", "3"},
                                                  {"correlationid", "corr-1"},
                                                  {"traceid", "trace-1"},
                                                  {"tenantid", "7"}};
  EXPECT_EQ(ce.extensions, ext);
  EXPECT_OK(ValidateCloudEvent(ce));
  // Bytes that are not JSON say so.
  Envelope bytes = FullEnvelope();
  bytes.payload = std::string("\x00\xFF", 2);
  EXPECT_EQ(CloudEventFromEnvelope(bytes, "s").datacontenttype, "application/octet-stream");
}

TEST(CloudEventsEnvelope, EveryModeAndBindingDecodesToTheSameEnvelope) {
  for (const Envelope& sent : {FullEnvelope(), [] {
                                 Envelope e =
                                     FullEnvelope();  // optional fields unset, payload not JSON
                                 e.trace_id.clear();
                                 e.correlation_id.clear();
                                 e.tenant_id = 0;
                                 e.event_version = 1;
                                 e.payload = std::string("\x00\x01\xFE", 3);
                                 return e;
                               }()}) {
    for (CloudEventMode mode : {CloudEventMode::kBinary, CloudEventMode::kStructured}) {
      for (CloudEventBinding binding : {CloudEventBinding::kKafka, CloudEventBinding::kNats}) {
        Record r = Encode(CloudEventFromEnvelope(sent, "svc"), mode, binding);
        Envelope got;
        ASSERT_OK(DecodeEnvelopeFromRecord(r, got));
        EXPECT_EQ(got, sent) << "mode " << static_cast<int>(mode) << " binding "
                             << static_cast<int>(binding);
      }
    }
  }
}

CloudEvent Foreign() {
  CloudEvent e;
  e.id = "f-1";
  e.source = "https://example.com/shop";
  e.type = "com.example.order.placed";
  e.datacontenttype = "application/xml";
  e.data = "<order/>";
  return e;
}

Result<Envelope> FromForeign(const CloudEvent& ce, std::string key = "") {
  Record r = Encode(ce, CloudEventMode::kBinary, CloudEventBinding::kKafka);
  r.key = std::move(key);
  r.timestamp = std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));
  Envelope e;
  if (Status s = DecodeEnvelopeFromRecord(r, e); !s.ok()) return s;
  return e;
}

TEST(CloudEventsEnvelope, ForeignAggregateFromSubjectThenPartitionKeyThenRecordKey) {
  CloudEvent ce = Foreign();
  ce.subject = "order-1";
  ce.extensions["partitionkey"] = "pk-1";
  EXPECT_EQ(FromForeign(ce, "key-1")->aggregate_id, "order-1");
  ce.subject.clear();
  EXPECT_EQ(FromForeign(ce, "key-1")->aggregate_id, "pk-1");
  ce.extensions.clear();
  EXPECT_EQ(FromForeign(ce, "key-1")->aggregate_id, "key-1");
  Result<Envelope> none = FromForeign(ce);
  EXPECT_EQ(none.status().code(), ErrorCode::kPoison);
  EXPECT_EQ(none.status().message(),
            "aggregate_id: the CloudEvent has no subject, no partitionkey extension, and the "
            "record no key");
  ce.subject = "has space";
  EXPECT_NE(FromForeign(ce).status().message().find("subject as aggregate_id: character \" \""),
            std::string::npos)
      << FromForeign(ce).status().ToString();
}

TEST(CloudEventsEnvelope, ForeignDefaultsAndNonJsonDataAsBytes) {
  CloudEvent ce = Foreign();
  ce.subject = "order-1";
  Result<Envelope> e = FromForeign(ce);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->event_id, "f-1");
  EXPECT_EQ(e->event_type, "com.example.order.placed");
  EXPECT_EQ(e->event_version, 1);                                  // no eventversion
  EXPECT_EQ(FormatRfc3339(e->timestamp), "2023-11-14T22:13:20Z");  // the record's time
  EXPECT_EQ(e->payload, "<order/>");                               // not JSON, as is
  EXPECT_TRUE(e->trace_id.empty() && e->correlation_id.empty() && e->tenant_id == 0);
  ce.time = At("2018-04-05T17:31:00Z");
  ce.extensions = {{"eventversion", "4"}, {"tenantid", "9"}, {"traceid", "tr"}};
  e = FromForeign(ce);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->event_version, 4);
  EXPECT_EQ(e->tenant_id, 9);
  EXPECT_EQ(e->trace_id, "tr");
  EXPECT_EQ(FormatRfc3339(e->timestamp), "2018-04-05T17:31:00Z");
}

TEST(CloudEventsEnvelope, ForeignEventsAnEnvelopeCannotHoldArePoisonWithTheReason) {
  CloudEvent ce = Foreign();
  ce.subject = "order-1";
  ce.extensions = {{"eventversion", "0"}};
  EXPECT_EQ(FromForeign(ce).status().message(), "eventversion: \"0\" is not an integer > 0");
  ce.extensions = {{"tenantid", "x"}};
  EXPECT_EQ(FromForeign(ce).status().message(), "tenantid: \"x\" is not an integer");
  ce.extensions.clear();
  ce.data.reset();
  EXPECT_EQ(FromForeign(ce).status().message(), "data: missing; an Envelope needs a payload");
}

TEST(CloudEventsEnvelope, StructuredWithoutItsContentTypeHeaderStillDecodes) {
  Record r = MakeRecord({}, R"({"specversion":"1.0","id":"1","source":"/s","type":"t",)"
                            R"("subject":"a-1","data":{"x":1}})");
  Envelope e;
  ASSERT_OK(DecodeEnvelopeFromRecord(r, e));
  EXPECT_EQ(e.aggregate_id, "a-1");
  EXPECT_EQ(e.payload, R"({"x":1})");
  // A broken envelope keeps the envelope's reason first.
  r.payload = R"({"specversion":"1.0"})";
  Status s = DecodeEnvelopeFromRecord(r, e);
  EXPECT_EQ(s.code(), ErrorCode::kPoison);
  EXPECT_EQ(s.message(), "aggregate_id: missing (nor a structured CloudEvent: id: missing)");
}

TEST(CloudEventsEnvelope, PlainEnvelopesDecodeAsBefore) {
  const Envelope sent = FullEnvelope();
  Result<std::string> json = EncodeEnvelope(sent);
  ASSERT_TRUE(json.ok());
  Record r = MakeRecord({{"X-Event-ID", sent.event_id}, {"X-Aggregate-ID", sent.aggregate_id}},
                        *json, sent.aggregate_id);
  Envelope got;
  ASSERT_OK(DecodeEnvelopeFromRecord(r, got));
  EXPECT_EQ(got, sent);
  r.payload = "{\"payload\":1}";
  EXPECT_EQ(DecodeEnvelopeFromRecord(r, got).message(), "aggregate_id: missing");
}

}  // namespace
}  // namespace evbus
