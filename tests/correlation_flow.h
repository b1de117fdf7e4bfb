// One scenario run on every transport: middleware::CorrelationId carries the
// correlation id of a consumed envelope into the envelopes and records its
// handler publishes, through the broker and back.

#ifndef EVBUS_TESTS_CORRELATION_FLOW_H_
#define EVBUS_TESTS_CORRELATION_FLOW_H_

#include <string>
#include <vector>

#include "test_support.h"

namespace evbus::test {

// Topics `prefix`-in, -out and -raw: the handler of -in publishes an envelope
// (no correlation id of its own) to -out and a raw record to -raw. Checks
// that both arrive carrying the id of the envelope consumed from -in.
inline void ExpectCorrelationIdFlowsThroughTheBroker(const Config& config,
                                                     const std::string& prefix) {
  const std::string in = prefix + "-in", out = prefix + "-out", raw = prefix + "-raw";
  auto created = EventBus::Create(config);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  std::unique_ptr<EventBus> bus = std::move(created).value();
  ASSERT_OK(bus->Use(middleware::CorrelationId()));

  Signal signal;
  std::string seen_in_handler, out_field, out_header, raw_header;
  ASSERT_OK(bus->SubscribeEnvelope(in, [&](const Envelope& e, const Delivery&) {
    const std::string current(middleware::CurrentCorrelationId());
    signal.Update([&] { seen_in_handler = current; });
    Envelope next = NewEnvelope(e.aggregate_id, "OrderShipped", 1, R"({"carrier":"dhl"})");
    if (Status s = bus->PublishEnvelope(out, next); !s.ok()) return s;
    Record r;
    r.topic = raw;
    r.key = e.aggregate_id;
    r.payload = "shipped";
    return bus->Publish(std::move(r));
  }));
  ASSERT_OK(bus->SubscribeEnvelope(out, [&](const Envelope& e, const Delivery& d) {
    const std::string header(FindHeader(d.record.headers, "X-Correlation-ID").value_or(""));
    signal.Update([&] {
      out_field = e.correlation_id;
      out_header = header;
    });
    return Status();
  }));
  ASSERT_OK(bus->Subscribe(raw, [&](const Record& r, const Delivery&) {
    const std::string header(FindHeader(r.headers, "X-Correlation-ID").value_or(""));
    signal.Update([&] { raw_header = header; });
    return Status();
  }));
  ASSERT_OK(bus->Start());

  Envelope first = NewEnvelope("order:1", "OrderPlaced", 1, R"({"total":12.50})");
  first.correlation_id = "req-" + prefix;
  ASSERT_OK(bus->PublishEnvelope(in, first));
  EXPECT_TRUE(signal.WaitUntil([&] { return !out_field.empty() && !raw_header.empty(); }))
      << "downstream messages did not arrive";
  {
    std::lock_guard<std::mutex> lock(signal.mutex());
    EXPECT_EQ(seen_in_handler, first.correlation_id);
    EXPECT_EQ(out_field, first.correlation_id) << "the envelope's correlation_id field";
    EXPECT_EQ(out_header, first.correlation_id) << "the envelope's X-Correlation-ID header";
    EXPECT_EQ(raw_header, first.correlation_id) << "the raw record's X-Correlation-ID header";
  }
  EXPECT_TRUE(middleware::CurrentCorrelationId().empty()) << "only inside the handler";
  auto report = bus->Close();
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->status.ok()) << report->ToString();
}

}  // namespace evbus::test

#endif  // EVBUS_TESTS_CORRELATION_FLOW_H_
