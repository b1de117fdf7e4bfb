// Envelope codec cost per envelope (DESIGN §5 quotes ~200 ns decode and
// ~150 ns encode on this kind of machine). Run:
//   build/bench/evbus_codec_bench
// The "validate payload only" row is simdjson's DOM parse of the payload,
// the part of encoding and decoding that checks the embedded JSON.

#include <benchmark/benchmark.h>

#include <string>

#include "codec/json_writer.h"
#include "evbus/envelope.h"

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

BENCHMARK(BM_Encode)->Arg(256)->Arg(4096);
BENCHMARK(BM_DecodeInto)->Arg(256)->Arg(4096);
BENCHMARK(BM_DecodeNew)->Arg(256)->Arg(4096);
BENCHMARK(BM_ValidatePayloadOnly)->Arg(256)->Arg(4096);

}  // namespace

BENCHMARK_MAIN();
