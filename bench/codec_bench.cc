// Envelope codec cost per envelope (DESIGN §5 quotes ~200 ns decode and
// ~150 ns encode on this kind of machine). Run:
//   build/bench/evbus_codec_bench
// The "validate payload only" row is simdjson's DOM parse of the payload,
// the part of encoding and decoding that checks the embedded JSON.

#include <benchmark/benchmark.h>

#include <string>

#include "codec/envelope_headers.h"
#include "codec/json_writer.h"
#include "evbus/cloudevents.h"
#include "evbus/envelope.h"
#include "evbus/record.h"

namespace {

evbus::Envelope Sample(size_t payload_bytes) {
  std::string payload = R"({"order_id":1001,"amount":763.20,"currency":"EUR","note":")";
  payload.append(payload_bytes > payload.size() + 2 ? payload_bytes - payload.size() - 2 : 0, 'x');
  payload += "\"}";
  evbus::Envelope e = evbus::NewEnvelope("order:1001", "OrderPlaced", 3, payload);
  e.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
  return e;
}

void BM_Encode(benchmark::State& state) {
  const evbus::Envelope e = Sample(static_cast<size_t>(state.range(0)));
  std::string out;
  for (auto _ : state) {
    out.clear();
    benchmark::DoNotOptimize(evbus::EncodeEnvelope(e, out).ok());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * out.size()));
}

void BM_DecodeInto(benchmark::State& state) {
  const std::string json =
      evbus::EncodeEnvelope(Sample(static_cast<size_t>(state.range(0)))).value();
  evbus::Envelope e;
  for (auto _ : state) benchmark::DoNotOptimize(evbus::DecodeEnvelopeInto(json, e).ok());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * json.size()));
}

void BM_DecodeNew(benchmark::State& state) {
  const std::string json =
      evbus::EncodeEnvelope(Sample(static_cast<size_t>(state.range(0)))).value();
  for (auto _ : state) benchmark::DoNotOptimize(evbus::DecodeEnvelope(json).ok());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * json.size()));
}

void BM_ValidatePayloadOnly(benchmark::State& state) {
  const evbus::Envelope e = Sample(static_cast<size_t>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(evbus::codec::IsValidJsonValue(e.payload));
}

// What an envelope costs a publisher beyond a record, as EventBus does it:
// a new event (UUIDv7 id, clock, payload copy), encoded into a fresh buffer,
// with its headers. BM_RecordMake is the record's side of the comparison:
// the payload copied into a new record. Together with BM_DecodeInto, the
// difference is the floor of the envelope's extra CPU per message.
void BM_EnvelopePublishSide(benchmark::State& state) {
  const evbus::Envelope sample = Sample(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    evbus::Envelope e =
        evbus::NewEnvelope(sample.aggregate_id, sample.event_type, 3, sample.payload);
    evbus::Record r;
    benchmark::DoNotOptimize(evbus::EncodeEnvelope(e, r.payload).ok());
    evbus::codec::AppendEnvelopeHeaders(e, r.headers);
    benchmark::DoNotOptimize(r);
  }
}

void BM_RecordMake(benchmark::State& state) {
  const evbus::Envelope sample = Sample(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    evbus::Record r;
    r.key = sample.aggregate_id;
    r.payload = sample.payload;
    benchmark::DoNotOptimize(r);
  }
}

// CloudEvents (topics.<name>.format), against BM_EnvelopePublishSide and
// BM_DecodeRecord: an envelope written as a CloudEvent record in each mode,
// and such a record read back as an Envelope (what SubscribeEnvelope does).
evbus::Record CloudEventRecord(const evbus::Envelope& e, evbus::CloudEventMode mode) {
  evbus::Record r;
  r.key = e.aggregate_id;
  (void)evbus::EncodeCloudEvent(evbus::CloudEventFromEnvelope(e, "orders-service"), mode,
                                evbus::CloudEventBinding::kKafka, r);
  return r;
}

void BM_CloudEventPublishSide(benchmark::State& state, evbus::CloudEventMode mode) {
  const evbus::Envelope sample = Sample(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    evbus::Envelope e =
        evbus::NewEnvelope(sample.aggregate_id, sample.event_type, 3, sample.payload);
    benchmark::DoNotOptimize(CloudEventRecord(e, mode));
  }
}

// The envelope's own subscribe side, from a record as the dispatcher has it.
void BM_DecodeRecord(benchmark::State& state) {
  evbus::Record r;
  r.payload = evbus::EncodeEnvelope(Sample(static_cast<size_t>(state.range(0)))).value();
  evbus::Envelope e;
  for (auto _ : state) benchmark::DoNotOptimize(evbus::DecodeEnvelopeFromRecord(r, e).ok());
}

void BM_CloudEventDecodeRecord(benchmark::State& state, evbus::CloudEventMode mode) {
  const evbus::Record r = CloudEventRecord(Sample(static_cast<size_t>(state.range(0))), mode);
  evbus::Envelope e;
  for (auto _ : state) benchmark::DoNotOptimize(evbus::DecodeEnvelopeFromRecord(r, e).ok());
}

BENCHMARK_CAPTURE(BM_CloudEventPublishSide, binary, evbus::CloudEventMode::kBinary)
    ->Arg(256)
    ->Arg(4096);
BENCHMARK_CAPTURE(BM_CloudEventPublishSide, structured, evbus::CloudEventMode::kStructured)
    ->Arg(256)
    ->Arg(4096);
BENCHMARK(BM_DecodeRecord)->Arg(256)->Arg(4096);
BENCHMARK_CAPTURE(BM_CloudEventDecodeRecord, binary, evbus::CloudEventMode::kBinary)
    ->Arg(256)
    ->Arg(4096);
BENCHMARK_CAPTURE(BM_CloudEventDecodeRecord, structured, evbus::CloudEventMode::kStructured)
    ->Arg(256)
    ->Arg(4096);
BENCHMARK(BM_Encode)->Arg(256)->Arg(4096);
BENCHMARK(BM_EnvelopePublishSide)->Arg(256)->Arg(4096);
BENCHMARK(BM_RecordMake)->Arg(256)->Arg(4096);
BENCHMARK(BM_DecodeInto)->Arg(256)->Arg(4096);
BENCHMARK(BM_DecodeNew)->Arg(256)->Arg(4096);
BENCHMARK(BM_ValidatePayloadOnly)->Arg(256)->Arg(4096);

}  // namespace

BENCHMARK_MAIN();
