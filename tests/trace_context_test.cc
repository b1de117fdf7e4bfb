// TraceContext against the W3C Trace Context spec's own cases (the
// traceparent and tracestate cases of w3c/trace-context's test suite).

#include "evbus/trace_context.h"

#include <gtest/gtest.h>

#include <set>

namespace evbus {
namespace {

constexpr char kTrace[] = "12345678901234567890123456789012";
constexpr char kParent[] = "1234567890123456";

TEST(TraceContext, ParsesTheSpecExample) {
  Result<TraceContext> c =
      TraceContext::Parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                          "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(c->parent_id, "00f067aa0ba902b7");
  EXPECT_EQ(c->flags, 1);
  EXPECT_TRUE(c->sampled());
  EXPECT_EQ(c->tracestate, "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
  EXPECT_EQ(c->traceparent(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
}

TEST(TraceContext, KeepsEveryFlagOfVersion00AndFormatsThem) {
  Result<TraceContext> c = TraceContext::Parse(std::string("00-") + kTrace + "-" + kParent + "-09");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->flags, 0x09);
  EXPECT_EQ(c->traceparent(), std::string("00-") + kTrace + "-" + kParent + "-09");
  Result<TraceContext> unsampled =
      TraceContext::Parse(std::string("00-") + kTrace + "-" + kParent + "-00");
  ASSERT_TRUE(unsampled.ok());
  EXPECT_FALSE(unsampled->sampled());
}

TEST(TraceContext, IgnoresSurroundingSpacesAndTabs) {
  for (const std::string& v : {std::string(" 00-") + kTrace + "-" + kParent + "-01",
                               std::string("\t00-") + kTrace + "-" + kParent + "-01",
                               std::string("00-") + kTrace + "-" + kParent + "-01 ",
                               std::string("\t 00-") + kTrace + "-" + kParent + "-01 \t"}) {
    Result<TraceContext> c = TraceContext::Parse(v);
    ASSERT_TRUE(c.ok()) << "[" << v << "] " << c.status().ToString();
    EXPECT_EQ(c->trace_id, kTrace);
  }
}

// A higher version is read as 00 (only its sampled bit kept) when the fields
// are where version 00 has them; what follows must start with '-'.
TEST(TraceContext, ReadsAFutureVersionAsVersion00) {
  for (const std::string& v :
       {std::string("cc-") + kTrace + "-" + kParent + "-01",
        std::string("cc-") + kTrace + "-" + kParent + "-01-what-the-future-will-be-like"}) {
    Result<TraceContext> c = TraceContext::Parse(v);
    ASSERT_TRUE(c.ok()) << v << ": " << c.status().ToString();
    EXPECT_EQ(c->trace_id, kTrace);
    EXPECT_EQ(c->traceparent(), std::string("00-") + kTrace + "-" + kParent + "-01");
  }
  Result<TraceContext> flags =
      TraceContext::Parse(std::string("cc-") + kTrace + "-" + kParent + "-09");
  ASSERT_TRUE(flags.ok());
  EXPECT_EQ(flags->flags, TraceContext::kSampled);
  EXPECT_FALSE(
      TraceContext::Parse(std::string("cc-") + kTrace + "-" + kParent + "-01.what-the-future")
          .ok());
}

TEST(TraceContext, RejectsTheSpecsInvalidTraceparentsNamingTheValue) {
  const std::string t = kTrace;
  const std::string p = kParent;
  const std::vector<std::string> invalid = {
      "00-" + t + "-" + p + "-01.",                              // trailing characters
      "00-" + t + "-" + p + "-01-what-the-future-will-be-like",  // 00 has nothing after flags
      "ff-" + t + "-" + p + "-01",                               // version ff
      ".0-" + t + "-" + p + "-01",                               // illegal version characters
      "0.-" + t + "-" + p + "-01",
      "000-" + t + "-" + p + "-01",  // version too long
      "0000-" + t + "-" + p + "-01",
      "0-" + t + "-" + p + "-01",                                 // version too short
      "00-00000000000000000000000000000000-" + p + "-01",         // trace id all zero
      "00-.2345678901234567890123456789012-" + p + "-01",         // trace id characters
      "00-1234567890123456789012345678901.-" + p + "-01",         //
      "00-123456789012345678901234567890123-" + p + "-01",        // trace id too long
      "00-1234567890123456789012345678901-" + p + "-01",          // trace id too short
      "00-" + t + "-0000000000000000-01",                         // parent id all zero
      "00-" + t + "-.234567890123456-01",                         // parent id characters
      "00-" + t + "-123456789012345.-01",                         //
      "00-" + t + "-12345678901234567-01",                        // parent id too long
      "00-" + t + "-123456789012345-01",                          // parent id too short
      "00-" + t + "-" + p + "-.0",                                // flags characters
      "00-" + t + "-" + p + "-0.",                                //
      "00-" + t + "-" + p + "-001",                               // flags too long
      "00-" + t + "-" + p + "-1",                                 // flags too short
      "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  // uppercase
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",  //
      "",                                                         //
      "cc-" + t + "-" + p,                                        // future, too short
  };
  for (const std::string& v : invalid) {
    Result<TraceContext> c = TraceContext::Parse(v);
    ASSERT_FALSE(c.ok()) << "accepted [" << v << "]";
    EXPECT_EQ(c.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(c.status().message().find("\"" + v.substr(0, 80)), std::string::npos)
        << c.status().ToString();
  }
}

TEST(TraceContext, KeepsAValidTracestateWithoutTheWhitespaceAroundMembers) {
  const std::string tp = std::string("00-") + kTrace + "-" + kParent + "-00";
  EXPECT_EQ(TraceContext::Parse(tp, "foo=1 \t , \t bar=2, \t baz=3")->tracestate,
            "foo=1,bar=2,baz=3");
  EXPECT_EQ(TraceContext::Parse(tp, "\t foo=1 \t")->tracestate, "foo=1");
  EXPECT_EQ(TraceContext::Parse(tp, "")->tracestate, "");
  EXPECT_EQ(TraceContext::Parse(tp, "foo=1,,bar=2")->tracestate, "foo=1,bar=2");
  // Every character the spec allows in a key (with and without a vendor) and a value.
  const std::string key = "abcdefghijklmnopqrstuvwxyz0123456789_-*/";
  std::string value;
  for (char c = 0x20; c <= 0x7e; ++c) {
    if (c != ',' && c != '=') value += c;
  }
  EXPECT_EQ(TraceContext::Parse(tp, key + "=" + value)->tracestate, key + "=" + value);
  EXPECT_EQ(TraceContext::Parse(tp, key + "@a-z0-9_-*/=" + value)->tracestate,
            key + "@a-z0-9_-*/=" + value);
  std::string members;
  for (int i = 0; i < 32; ++i) members += (i ? ",k" : "k") + std::to_string(i) + "=v";
  EXPECT_EQ(TraceContext::Parse(tp, members)->tracestate, members);
}

// An invalid tracestate is dropped (the spec's "discard"), the traceparent kept.
TEST(TraceContext, DropsAnInvalidTracestate) {
  const std::string tp = std::string("00-") + kTrace + "-" + kParent + "-00";
  std::string too_many;
  for (int i = 0; i < 33; ++i) too_many += (i ? ",k" : "k") + std::to_string(i) + "=v";
  for (const std::string& state :
       {std::string("foo=1,foo=1"), std::string("foo=1,foo=2"), std::string("foo =1"),
        std::string("FOO=1"), std::string("foo.bar=1"), std::string("foo@=1,bar=2"),
        std::string("@foo=1,bar=2"), std::string("foo@@bar=1,bar=2"),
        std::string("foo@bar@baz=1,bar=2"), std::string("foo"), std::string("foo=1 ,bar"),
        std::string("foo=bar=1"), too_many}) {
    Result<TraceContext> c = TraceContext::Parse(tp, state);
    ASSERT_TRUE(c.ok()) << state;
    EXPECT_EQ(c->tracestate, "") << state;
    EXPECT_EQ(c->trace_id, kTrace);
  }
}

TEST(TraceContext, FromHeadersMatchesAnyCaseJoinsTracestatesAndRejectsTwoTraceparents) {
  const std::string tp = std::string("00-") + kTrace + "-" + kParent + "-01";
  std::optional<TraceContext> c = TraceContext::FromHeaders({{"X-Event-ID", "e1"},
                                                             {"TraceParent", tp},
                                                             {"tracestate", "foo=1,bar=2"},
                                                             {"TRACESTATE", "rojo=1,congo=2"},
                                                             {"tracestate", "baz=3"}});
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->trace_id, kTrace);
  EXPECT_EQ(c->tracestate, "foo=1,bar=2,rojo=1,congo=2,baz=3");
  EXPECT_FALSE(TraceContext::FromHeaders({{"traceparent", tp}, {"traceparent", tp}}).has_value());
  EXPECT_FALSE(TraceContext::FromHeaders({{"trace-parent", tp}}).has_value());
  EXPECT_FALSE(TraceContext::FromHeaders({{"traceparent", "00-bogus"}}).has_value());
  EXPECT_FALSE(TraceContext::FromHeaders({{"tracestate", "foo=1"}}).has_value());
  EXPECT_EQ(TraceContext::FromHeaders({{"traceparent", tp}, {"tracestate", ""}})->tracestate, "");
}

TEST(TraceContext, NewAndChildMakeValidDistinctIds) {
  std::set<std::string> traces;
  std::set<std::string> spans;
  for (int i = 0; i < 1000; ++i) {
    const TraceContext root = TraceContext::New();
    EXPECT_TRUE(root.sampled());
    Result<TraceContext> reparsed = TraceContext::Parse(root.traceparent());
    ASSERT_TRUE(reparsed.ok()) << root.traceparent() << ": " << reparsed.status().ToString();
    EXPECT_EQ(*reparsed, root);
    traces.insert(root.trace_id);
    TraceContext parent = root;
    parent.tracestate = "vendor=1";
    const TraceContext child = parent.Child();
    EXPECT_EQ(child.trace_id, root.trace_id);
    EXPECT_EQ(child.flags, root.flags);
    EXPECT_EQ(child.tracestate, "vendor=1");
    EXPECT_NE(child.parent_id, root.parent_id);
    spans.insert(child.parent_id);
  }
  EXPECT_EQ(traces.size(), 1000u);
  EXPECT_EQ(spans.size(), 1000u);
  EXPECT_FALSE(TraceContext::New(/*sampled=*/false).sampled());
}

TEST(TraceContext, InjectReplacesWhatTheHeadersHeld) {
  const TraceContext c = *TraceContext::Parse(
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "rojo=00f067aa0ba902b7");
  Headers headers = {{"X-Event-ID", "e1"},
                     {"Traceparent", "00-" + std::string(kTrace) + "-" + kParent + "-00"},
                     {"tracestate", "old=1"}};
  c.Inject(headers);
  EXPECT_EQ(headers, (Headers{{"X-Event-ID", "e1"},
                              {"traceparent", c.traceparent()},
                              {"tracestate", "rojo=00f067aa0ba902b7"}}));
  EXPECT_EQ(TraceContext::FromHeaders(headers), c);
  TraceContext no_state = c;
  no_state.tracestate.clear();
  no_state.Inject(headers);
  EXPECT_EQ(headers, (Headers{{"X-Event-ID", "e1"}, {"traceparent", c.traceparent()}}));
}

}  // namespace
}  // namespace evbus
