// Envelope wire format: golden vectors in the jxt-core format, round trips,
// validation rules and malformed input.

#include "evbus/envelope.h"

#include <gtest/gtest.h>

#include <set>

namespace evbus {
namespace {

using std::chrono::nanoseconds;
using std::chrono::sys_days;

Timestamp At(int y, unsigned mo, unsigned d, int h, int mi, int s, int64_t ns, int offset_min) {
  using namespace std::chrono;
  const auto local = sys_days{year{y} / month{mo} / day{d}} + hours{h} + minutes{mi} + seconds{s} +
                     nanoseconds{ns};
  return Timestamp{local - minutes{offset_min}, offset_min};
}

Envelope Sample() {
  Envelope e;
  e.event_id = "0190f1f2-6b7a-7c3d-8e4f-5a6b7c8d9e0f";
  e.aggregate_id = "order:1001";
  e.event_type = "OrderPlaced";
  e.event_version = 3;
  e.timestamp = At(2025, 10, 13, 20, 25, 8, 406123000, 8 * 60);
  e.payload = R"({"amount":763.20, "items":[1,2],"b":{"z":1,"a":2}})";
  return e;
}

std::string Encode(const Envelope& e, PayloadFormat f = PayloadFormat::kRawJson) {
  Result<std::string> r = EncodeEnvelope(e, f);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : "";
}

// ------------------------------------------------------------ golden vectors

TEST(EnvelopeGolden, MinimalEnvelopeHasKeysInOrderAndOmitsEmpties) {
  EXPECT_EQ(Encode(Sample()),
            R"({"event_id":"0190f1f2-6b7a-7c3d-8e4f-5a6b7c8d9e0f","aggregate_id":"order:1001",)"
            R"("event_type":"OrderPlaced","event_version":3,)"
            R"("timestamp":"2025-10-13T20:25:08.406123+08:00",)"
            R"("payload":{"amount":763.20, "items":[1,2],"b":{"z":1,"a":2}}})");
}

TEST(EnvelopeGolden, OptionalFieldsAppearBetweenTimestampAndPayload) {
  Envelope e = Sample();
  e.trace_id = "trace-1";
  e.correlation_id = "corr-9";
  e.tenant_id = 42;
  e.payload = "{}";
  EXPECT_EQ(Encode(e),
            R"({"event_id":"0190f1f2-6b7a-7c3d-8e4f-5a6b7c8d9e0f","aggregate_id":"order:1001",)"
            R"("event_type":"OrderPlaced","event_version":3,)"
            R"("timestamp":"2025-10-13T20:25:08.406123+08:00","trace_id":"trace-1",)"
            R"("correlation_id":"corr-9","tenant_id":42,"payload":{}})");
}

TEST(EnvelopeGolden, Base64PayloadIsTheOlderJxtCoreFormat) {
  Envelope e = Sample();
  e.payload = R"({"k":1})";
  const std::string json = Encode(e, PayloadFormat::kBase64);
  EXPECT_NE(json.find(R"("payload":"eyJrIjoxfQ=="})"), std::string::npos) << json;
  Result<Envelope> back = DecodeEnvelope(json, PayloadFormat::kBase64);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->payload, R"({"k":1})");
}

TEST(EnvelopeGolden, TimestampFormsMatchGoRfc3339Nano) {
  EXPECT_EQ(FormatRfc3339(At(2025, 1, 2, 3, 4, 5, 0, 0)), "2025-01-02T03:04:05Z");
  EXPECT_EQ(FormatRfc3339(At(2025, 1, 2, 3, 4, 5, 500000000, 0)), "2025-01-02T03:04:05.5Z");
  EXPECT_EQ(FormatRfc3339(At(2025, 1, 2, 3, 4, 5, 1, 0)), "2025-01-02T03:04:05.000000001Z");
  EXPECT_EQ(FormatRfc3339(At(2025, 1, 2, 3, 4, 5, 120000000, -5 * 60 - 30)),
            "2025-01-02T03:04:05.12-05:30");
  // Local midnight east of UTC is the previous UTC day.
  EXPECT_EQ(FormatRfc3339(At(2025, 3, 1, 0, 0, 0, 0, 60)), "2025-03-01T00:00:00+01:00");
}

TEST(EnvelopeGolden, StringsAreEscapedLikeGo) {
  Envelope e = Sample();
  e.event_type = "a<b>&\"c\\\n\t\x01\u2028";
  e.payload = "1";
  const std::string json = Encode(e);
  EXPECT_NE(json.find(R"("event_type":"a\u003cb\u003e\u0026\"c\\\n\t\u0001\u2028")"),
            std::string::npos)
      << json;
  Result<Envelope> back = DecodeEnvelope(json);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->event_type, e.event_type);
}

// ------------------------------------------------------------ round trips

TEST(EnvelopeRoundTrip, DecodeOfEncodeIsIdentityAndPayloadBytesAreExact) {
  Envelope e = Sample();
  e.trace_id = "t";
  e.tenant_id = -7;
  Result<Envelope> back = DecodeEnvelope(Encode(e));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, e);
  EXPECT_EQ(back->payload, R"({"amount":763.20, "items":[1,2],"b":{"z":1,"a":2}})");
  EXPECT_EQ(Encode(*back), Encode(e));
}

TEST(EnvelopeRoundTrip, ScalarPayloadsAreKeptRaw) {
  for (const char* payload : {"42", "-1.50e3", "true", "[]"}) {
    Envelope e = Sample();
    e.payload = payload;
    Result<Envelope> back = DecodeEnvelope(Encode(e));
    ASSERT_TRUE(back.ok()) << payload << ": " << back.status().ToString();
    EXPECT_EQ(back->payload, payload);
  }
}

TEST(EnvelopeRoundTrip, ForeignJsonWithWhitespaceAndUnknownKeysDecodes) {
  const std::string json = R"(  {
    "source": "go-service", "event_id" : "id-1", "aggregate_id": "user/7",
    "event_type": "UserRenamed", "event_version": 2, "extra": {"deep": [1, {"x": null}]},
    "timestamp": "2024-02-29T23:59:59.999999999-08:00",
    "payload": { "name" : "Ada" }
  }  )";
  Result<Envelope> e = DecodeEnvelope(json);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->aggregate_id, "user/7");
  EXPECT_EQ(e->payload, R"({ "name" : "Ada" })");
  EXPECT_EQ(FormatRfc3339(e->timestamp), "2024-02-29T23:59:59.999999999-08:00");
}

TEST(EnvelopeRoundTrip, NewEnvelopeIsValidAndStamped) {
  Envelope e = NewEnvelope("acct-1", "Opened", 1, "{}");
  EXPECT_TRUE(Validate(e).ok());
  EXPECT_GT(e.timestamp.time.time_since_epoch().count(), 0);
}

// ------------------------------------------------------------ event ids

TEST(EventId, IsUuidV7AndStrictlyIncreasing) {
  std::string prev;
  std::set<std::string> seen;
  for (int i = 0; i < 20000; ++i) {
    const std::string id = NewEventId();
    ASSERT_EQ(id.size(), 36u);
    EXPECT_EQ(id[8], '-');
    EXPECT_EQ(id[14], '7') << id;  // version
    EXPECT_TRUE(id[19] == '8' || id[19] == '9' || id[19] == 'a' || id[19] == 'b') << id;
    EXPECT_GT(id, prev);
    prev = id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 20000u);
}

// ------------------------------------------------------------ validation

TEST(EnvelopeValidate, AggregateIdRules) {
  EXPECT_TRUE(ValidateAggregateId("a-Z_0:9./x").ok());
  EXPECT_TRUE(ValidateAggregateId(" padded ").ok());  // trimmed for the check, kept as is
  EXPECT_NE(ValidateAggregateId("   ").message().find("required"), std::string::npos);
  EXPECT_NE(ValidateAggregateId("a b").message().find("\" \" at position 1"), std::string::npos);
  EXPECT_NE(ValidateAggregateId("ü").message().find("\\xc3"), std::string::npos);
  EXPECT_TRUE(ValidateAggregateId(std::string(256, 'a')).ok());
  Status too_long = ValidateAggregateId(std::string(257, 'a'));
  EXPECT_NE(too_long.message().find("257 characters, at most 256"), std::string::npos);
}

TEST(EnvelopeValidate, EachRuleNamesItsField) {
  struct Case {
    std::function<void(Envelope&)> breaks;
    std::string expect;
  };
  const std::vector<Case> cases = {
      {[](Envelope& e) { e.event_id = " "; }, "event_id: required"},
      {[](Envelope& e) { e.aggregate_id = ""; }, "aggregate_id: required"},
      {[](Envelope& e) { e.event_type = ""; }, "event_type: required"},
      {[](Envelope& e) { e.event_version = 0; }, "event_version: must be > 0, got 0"},
      {[](Envelope& e) { e.event_version = -3; }, "event_version: must be > 0, got -3"},
      {[](Envelope& e) { e.payload = ""; }, "payload: required"},
      {[](Envelope& e) { e.payload = "{\"a\":"; }, "payload: not one well-formed JSON value"},
      {[](Envelope& e) { e.trace_id = "\xff"; }, "trace_id: not valid UTF-8"},
      {[](Envelope& e) { e.timestamp.utc_offset_minutes = 1440; }, "timestamp: UTC offset"},
  };
  for (const Case& c : cases) {
    Envelope e = Sample();
    c.breaks(e);
    Status s = Validate(e);
    EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument) << c.expect;
    EXPECT_EQ(s.message().rfind(c.expect, 0), 0u) << s.message();
    EXPECT_FALSE(EncodeEnvelope(e).ok());
  }
}

TEST(EnvelopeValidate, Base64AllowsAnyBytes) {
  Envelope e = Sample();
  e.payload = std::string("\x00\xff not json", 11);
  EXPECT_TRUE(Validate(e, PayloadFormat::kBase64).ok());
  Result<Envelope> back = DecodeEnvelope(Encode(e, PayloadFormat::kBase64), PayloadFormat::kBase64);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->payload, e.payload);
}

// ------------------------------------------------------------ malformed input

void ExpectPoison(const std::string& json, const std::string& fragment,
                  PayloadFormat f = PayloadFormat::kRawJson) {
  Result<Envelope> r = DecodeEnvelope(json, f);
  ASSERT_FALSE(r.ok()) << "decoded: " << json.substr(0, 80);
  EXPECT_EQ(r.status().code(), ErrorCode::kPoison);
  EXPECT_NE(r.status().message().find(fragment), std::string::npos)
      << "message: " << r.status().message() << "\nexpected: " << fragment;
}

const std::string kHead =
    R"({"event_id":"e","aggregate_id":"a","event_type":"T","event_version":1,)";

TEST(EnvelopeMalformed, GivesAClearErrorAndNeverCrashes) {
  const std::string good = Encode(Sample());
  for (size_t cut : {size_t{0}, size_t{1}, size_t{30}, good.size() / 2, good.size() - 1}) {
    ExpectPoison(good.substr(0, cut), "");  // truncated anywhere
  }
  ExpectPoison("[1,2]", "not a JSON object");
  ExpectPoison(kHead + R"("payload":{}} trailing)", "not a valid JSON envelope");
  ExpectPoison(kHead + R"("payload":{}} {})", "");
  ExpectPoison(R"({"event_id":"e","event_type":"T","event_version":1,"payload":{}})",
               "aggregate_id: missing");
  ExpectPoison(R"({"event_id":"e","aggregate_id":"a","event_type":"T","event_version":1})",
               "payload: missing");
  ExpectPoison(kHead + "}", "not a valid JSON envelope");  // trailing comma
  ExpectPoison(kHead + R"("payload":null})", "payload: required, got null");
  ExpectPoison(kHead + R"("payload":{"a":tru}})", "payload: not well-formed JSON");
  ExpectPoison(
      R"({"event_id":"e","aggregate_id":"a","event_type":"T","event_version":"1","payload":{}})",
      "event_version: expected an integer, got a string");
  ExpectPoison(
      R"({"event_id":"e","aggregate_id":"a","event_type":"T","event_version":1.5,"payload":{}})",
      "event_version: expected an integer");
  ExpectPoison(
      R"({"event_id":7,"aggregate_id":"a","event_type":"T","event_version":1,"payload":{}})",
      "event_id: expected a string, got a number");
  ExpectPoison(kHead + R"("event_id":"again","payload":{}})", "duplicate key \"event_id\"");
  ExpectPoison(kHead + R"("timestamp":"yesterday","payload":{}})", "is not RFC 3339");
  ExpectPoison(kHead + R"("timestamp":"2025-02-30T00:00:00Z","payload":{}})", "no such date");
  ExpectPoison(kHead + R"("payload":"!!"})", "not valid standard base64", PayloadFormat::kBase64);
  ExpectPoison(kHead + R"("payload":{}})", "payload: expected a base64 string",
               PayloadFormat::kBase64);
  ExpectPoison(
      R"({"event_id":"e","aggregate_id":"a b","event_type":"T","event_version":1,"payload":{}})",
      "aggregate_id: character");
  ExpectPoison(std::string(R"({"event_id":"e","aggregate_id":")") + "\xff\xfe" +
                   R"(","event_type":"T","event_version":1,"payload":{}})",
               "");  // invalid UTF-8
}

TEST(EnvelopeMalformed, HugeAggregateIdIsRejectedWithItsLength) {
  const std::string big(1 << 20, 'a');
  ExpectPoison(R"({"event_id":"e","aggregate_id":")" + big +
                   R"(","event_type":"T","event_version":1,"payload":{}})",
               "1048576 characters, at most 256");
}

TEST(EnvelopeMalformed, DeepNestingIsRejected) {
  const std::string deep = std::string(5000, '[') + std::string(5000, ']');
  ExpectPoison(kHead + R"("payload":)" + deep + "}", "");
  ExpectPoison(std::string(5000, '{'), "");
}

TEST(Rfc3339, ParsesValidFormsAndRejectsOthers) {
  EXPECT_TRUE(ParseRfc3339("2025-10-13T20:25:08Z").ok());
  EXPECT_TRUE(ParseRfc3339("2025-10-13t20:25:08.1+00:00").ok());
  for (const char* bad :
       {"", "2025-10-13", "2025-10-13T20:25:08", "2025-13-01T00:00:00Z", "2025-10-13T24:00:00Z",
        "2025-10-13T20:25:08.Z", "2025-10-13T20:25:08+0800", "2025-10-13T20:25:08Zjunk"}) {
    EXPECT_FALSE(ParseRfc3339(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace evbus
