// evbus envelope: encode a sample (or given) event and decode it back.

#include <cstdio>
#include <iostream>
#include <iterator>

#include "cli/commands.h"
#include "evbus/envelope.h"

namespace evbus::cli {
namespace {

struct EnvelopeOptions {
  std::string aggregate_id = "order:1001";
  std::string event_type = "OrderPlaced";
  int64_t version = 1;
  std::string payload = R"({"order_id":1001,"amount":763.20,"currency":"EUR"})";
  bool base64 = false;
  bool decode_stdin = false;
};

int Run(const EnvelopeOptions& o) {
  const PayloadFormat format = o.base64 ? PayloadFormat::kBase64 : PayloadFormat::kRawJson;
  if (o.decode_stdin) {
    std::string input((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    while (!input.empty() && (input.back() == '\n' || input.back() == '\r')) input.pop_back();
    Result<Envelope> e = DecodeEnvelope(input, format);
    if (!e.ok()) {
      std::fprintf(stderr, "evbus envelope: %s\n", e.status().ToString().c_str());
      return kExitRuntime;
    }
    std::printf(
        "event_id:       %s\naggregate_id:   %s\nevent_type:     %s\n"
        "event_version:  %lld\ntimestamp:      %s\npayload:        %s\n",
        e->event_id.c_str(), e->aggregate_id.c_str(), e->event_type.c_str(),
        static_cast<long long>(e->event_version), FormatRfc3339(e->timestamp).c_str(),
        e->payload.c_str());
    return kExitOk;
  }
  Envelope e = NewEnvelope(o.aggregate_id, o.event_type, o.version, o.payload);
  Result<std::string> json = EncodeEnvelope(e, format);
  if (!json.ok()) {
    std::fprintf(stderr, "evbus envelope: %s\n", json.status().ToString().c_str());
    return kExitUsage;
  }
  std::printf("encoded: %s\n", json->c_str());
  Result<Envelope> back = DecodeEnvelope(*json, format);
  if (!back.ok()) {
    std::fprintf(stderr, "evbus envelope: decode failed: %s\n", back.status().ToString().c_str());
    return kExitRuntime;
  }
  std::printf("decoded: event_id=%s aggregate_id=%s event_type=%s version=%lld\n",
              back->event_id.c_str(), back->aggregate_id.c_str(), back->event_type.c_str(),
              static_cast<long long>(back->event_version));
  std::printf("payload bytes kept exactly: %s\n", back->payload == e.payload ? "yes" : "NO");
  return back->payload == e.payload ? kExitOk : kExitRuntime;
}

}  // namespace

void RegisterEnvelope(CLI::App& app, Action& run) {
  auto opts = std::make_shared<EnvelopeOptions>();
  CLI::App* cmd = app.add_subcommand(
      "envelope",
      "Encode an event as an Envelope (jxt-core wire format) and decode it back, or decode one "
      "from stdin.\nExamples:\n  evbus envelope\n  evbus envelope --aggregate-id user:7 "
      "--type UserRenamed --payload '{\"name\":\"Ada\"}'\n  echo '<json>' | evbus envelope "
      "--decode");
  cmd->add_option("--aggregate-id", opts->aggregate_id, "Aggregate id")->capture_default_str();
  cmd->add_option("--type", opts->event_type, "Event type")->capture_default_str();
  cmd->add_option("--version", opts->version, "Event version (> 0)")->capture_default_str();
  cmd->add_option("--payload", opts->payload, "Payload (JSON, or any bytes with --base64)")
      ->capture_default_str();
  cmd->add_flag("--base64", opts->base64, "Use the older jxt-core base64 payload format");
  cmd->add_flag("--decode", opts->decode_stdin, "Decode one envelope read from stdin");
  cmd->callback([&run, opts] { run = [opts] { return Run(*opts); }; });
}

}  // namespace evbus::cli
