// jxt-core's three envelope generations (WireGeneration) and the payload
// rule (PayloadFormat): what each encoder writes, what each decoder accepts,
// and that a payload in the other form is poison with a reason, never handed
// over altered. The byte strings marked "as Go writes it" are what
// tests/interop/jxtpeer's encoder (Go encoding/json) produces.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "codec/envelope_headers.h"
#include "evbus/envelope.h"

namespace evbus {
namespace {

// As Go writes it at jxt-core 917247d: no event_id, no tenant_id, payload
// []byte as a standard base64 string. The payload is {"i":1,"price":763.20}.
const std::string kSeedEra =
    R"({"aggregate_id":"agg-1","event_type":"interop.Tested","event_version":2,)"
    R"("timestamp":"2026-12-04T23:10:00.123456789+08:00","trace_id":"trace-1",)"
    R"("payload":"eyJpIjoxLCJwcmljZSI6NzYzLjIwfQ=="})";
// As Go writes it between bf8ec78 and cf575b6: event_id first, still base64.
const std::string kEventIdEra =
    R"({"event_id":"go-1","aggregate_id":"agg-1","event_type":"interop.Tested",)"
    R"("event_version":2,"timestamp":"2026-12-04T23:10:00.123456789Z",)"
    R"("payload":"eyJpIjoxLCJwcmljZSI6NzYzLjIwfQ=="})";
// jxt-core >= cf575b6 and evbus: integer tenant_id, raw payload.
const std::string kCurrent =
    R"({"event_id":"go-1","aggregate_id":"agg-1","event_type":"interop.Tested",)"
    R"("event_version":2,"timestamp":"2026-12-04T23:10:00.123456789Z","tenant_id":7,)"
    R"("payload":{"i":1,"price":763.20}})";
const std::string kPayload = R"({"i":1,"price":763.20})";

Envelope Sample() {
  Envelope e;
  e.event_id = "go-1";
  e.aggregate_id = "agg-1";
  e.event_type = "interop.Tested";
  e.event_version = 2;
  e.timestamp = *ParseRfc3339("2026-12-04T23:10:00.123456789Z");
  e.tenant_id = 7;
  e.payload = kPayload;
  return e;
}

TEST(EnvelopeGenerations, EveryGenerationDecodesInAutoMode) {
  for (const std::string* wire : {&kSeedEra, &kEventIdEra, &kCurrent}) {
    Result<Envelope> e = DecodeEnvelope(*wire);  // the default is kAuto
    ASSERT_TRUE(e.ok()) << *wire << "\n" << e.status().ToString();
    EXPECT_EQ(e->payload, kPayload) << "the payload's bytes, exactly";
    EXPECT_EQ(e->aggregate_id, "agg-1");
    EXPECT_EQ(e->event_version, 2);
  }
  EXPECT_EQ(DecodeEnvelope(kSeedEra)->event_id, "") << "a seed-era record has no event id";
  EXPECT_EQ(DecodeEnvelope(kSeedEra)->timestamp.utc_offset_minutes, 8 * 60);
  EXPECT_EQ(DecodeEnvelope(kEventIdEra)->event_id, "go-1");
  EXPECT_EQ(DecodeEnvelope(kEventIdEra)->tenant_id, 0);
  EXPECT_EQ(DecodeEnvelope(kCurrent)->tenant_id, 7);
}

TEST(EnvelopeGenerations, ExplicitModesAcceptOnlyTheirForm) {
  EXPECT_TRUE(DecodeEnvelope(kSeedEra, PayloadFormat::kBase64).ok());
  EXPECT_TRUE(DecodeEnvelope(kCurrent, PayloadFormat::kRawJson).ok());

  // The bug this rule replaces: raw_json once handed the quoted base64 text over.
  Result<Envelope> r = DecodeEnvelope(kSeedEra, PayloadFormat::kRawJson);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kPoison);
  EXPECT_NE(r.status().message().find("payload: a base64 string"), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("payload_format"), std::string::npos)
      << "the message says which setting reads it";

  r = DecodeEnvelope(kCurrent, PayloadFormat::kBase64);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kPoison);
  EXPECT_NE(r.status().message().find("payload: expected a base64 string"), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("got an object"), std::string::npos);
}

TEST(EnvelopeGenerations, AutoModeRejectsAStringThatIsNotBase64) {
  for (const char* bad : {R"("not base64!")", R"("abc")", R"("")"}) {
    const std::string wire =
        R"({"aggregate_id":"a","event_type":"T","event_version":1,"payload":)" + std::string(bad) +
        "}";
    Result<Envelope> r = DecodeEnvelope(wire, PayloadFormat::kAuto);
    ASSERT_FALSE(r.ok()) << wire;
    EXPECT_EQ(r.status().code(), ErrorCode::kPoison);
    EXPECT_NE(r.status().message().find("payload:"), std::string::npos) << r.status().message();
  }
}

TEST(EnvelopeGenerations, OptionalFieldsMayBeAbsentOrNull) {
  const std::string wire =
      R"({"event_id":"","aggregate_id":"a","event_type":"T","event_version":1,)"
      R"("trace_id":null,"correlation_id":null,"tenant_id":null,"payload":[1]})";
  Result<Envelope> e = DecodeEnvelope(wire);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->event_id, "");
  EXPECT_EQ(e->tenant_id, 0);
  EXPECT_EQ(e->trace_id, "");
  // tenant_id is an integer; anything else is poison naming it.
  Result<Envelope> r = DecodeEnvelope(
      R"({"aggregate_id":"a","event_type":"T","event_version":1,"tenant_id":"7","payload":[1]})");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("tenant_id: expected an integer, got a string"),
            std::string::npos)
      << r.status().message();
}

TEST(EnvelopeGenerations, EachGenerationEncodesWhatThatJxtCoreWrote) {
  Envelope e = Sample();
  EXPECT_EQ(*EncodeEnvelope(e, PayloadFormat::kRawJson, WireGeneration::kCurrent), kCurrent);
  EXPECT_EQ(*EncodeEnvelope(e, PayloadFormat::kRawJson, WireGeneration::kEventId), kEventIdEra)
      << "no tenant_id, payload base64 whatever the format";
  Envelope seed = e;
  seed.trace_id = "trace-1";
  seed.timestamp = *ParseRfc3339("2026-12-04T23:10:00.123456789+08:00");
  EXPECT_EQ(*EncodeEnvelope(seed, PayloadFormat::kRawJson, WireGeneration::kSeed), kSeedEra)
      << "no event_id, no tenant_id, payload base64";
  seed.event_id.clear();
  EXPECT_TRUE(EncodeEnvelope(seed, PayloadFormat::kRawJson, WireGeneration::kSeed).ok())
      << "the seed generation does not need an event id";
  EXPECT_FALSE(EncodeEnvelope(seed, PayloadFormat::kRawJson, WireGeneration::kCurrent).ok());
}

TEST(EnvelopeGenerations, HeadersFollowTheGeneration) {
  auto names = [](WireGeneration g) {
    std::vector<Header> headers;
    codec::AppendEnvelopeHeaders(Sample(), headers, g);
    std::string out;
    for (const Header& h : headers) out += h.key + " ";
    return out;
  };
  EXPECT_EQ(names(WireGeneration::kCurrent),
            "X-Event-ID X-Aggregate-ID X-Event-Type X-Event-Version X-Tenant-ID ");
  EXPECT_EQ(names(WireGeneration::kEventId),
            "X-Event-ID X-Aggregate-ID X-Event-Type X-Event-Version ");
  EXPECT_EQ(names(WireGeneration::kSeed), "X-Aggregate-ID X-Event-Type X-Event-Version ");
}

TEST(EnvelopeGenerations, ARawPayloadIsNeverAString) {
  Envelope e = Sample();
  e.payload = R"("hello")";
  Status s = Validate(e);
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(s.message().find("payload: a JSON string"), std::string::npos) << s.message();
  EXPECT_FALSE(EncodeEnvelope(e).ok());
  // As base64 it travels, and comes back byte for byte.
  Result<std::string> wire = EncodeEnvelope(e, PayloadFormat::kBase64);
  ASSERT_TRUE(wire.ok());
  EXPECT_EQ(DecodeEnvelope(*wire)->payload, R"("hello")");
}

}  // namespace
}  // namespace evbus
