#include "codec/envelope_internal.h"
#include "codec/json_writer.h"
#include "codec/quote.h"
#include "evbus/envelope.h"

namespace evbus {
namespace {

constexpr size_t kMaxAggregateIdLength = 256;

bool IsAllowedAggregateChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ':' ||
         c == '_' || c == '-' || c == '.' || c == '/';
}

std::string_view TrimSpaces(std::string_view s) {
  auto is_space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
  };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

Status RequireText(std::string_view field, std::string_view value, bool required) {
  if (required && TrimSpaces(value).empty()) {
    return InvalidArgument(std::string(field) + ": required, got " + codec::QuoteValue(value));
  }
  if (!codec::IsValidUtf8(value)) {
    return InvalidArgument(std::string(field) + ": not valid UTF-8: " + codec::QuoteValue(value));
  }
  return Status();
}

}  // namespace

Status ValidateAggregateId(std::string_view aggregate_id) {
  const std::string_view trimmed = TrimSpaces(aggregate_id);
  if (trimmed.empty())
    return InvalidArgument("aggregate_id: required, got " + codec::QuoteValue(aggregate_id));
  if (trimmed.size() > kMaxAggregateIdLength) {
    return InvalidArgument("aggregate_id: " + std::to_string(trimmed.size()) +
                           " characters, at most 256 allowed: " + codec::QuoteValue(trimmed));
  }
  for (size_t i = 0; i < trimmed.size(); ++i) {
    if (!IsAllowedAggregateChar(trimmed[i])) {
      return InvalidArgument("aggregate_id: character " + codec::QuoteValue(trimmed.substr(i, 1)) +
                             " at position " + std::to_string(i) +
                             " not allowed (only A-Z a-z 0-9 : _ - . /) in " +
                             codec::QuoteValue(trimmed));
    }
  }
  return Status();
}

namespace codec {

Status ValidateFields(const Envelope& e, bool event_id_required) {
  if (Status s = RequireText("event_id", e.event_id, event_id_required); !s.ok()) return s;
  if (Status s = ValidateAggregateId(e.aggregate_id); !s.ok()) return s;
  if (Status s = RequireText("event_type", e.event_type, true); !s.ok()) return s;
  if (e.event_version <= 0) {
    return InvalidArgument("event_version: must be > 0, got " + std::to_string(e.event_version));
  }
  if (e.timestamp.utc_offset_minutes < -1439 || e.timestamp.utc_offset_minutes > 1439) {
    return InvalidArgument("timestamp: UTC offset " +
                           std::to_string(e.timestamp.utc_offset_minutes) +
                           " minutes is out of range [-1439, 1439]");
  }
  {
    using namespace std::chrono;
    const auto day = floor<days>(e.timestamp.time + minutes(e.timestamp.utc_offset_minutes));
    const int year = static_cast<int>(year_month_day{day}.year());
    if (year < 0 || year > 9999) {
      return InvalidArgument("timestamp: year " + std::to_string(year) +
                             " is out of range [0, 9999]");
    }
  }
  if (Status s = RequireText("trace_id", e.trace_id, false); !s.ok()) return s;
  if (Status s = RequireText("correlation_id", e.correlation_id, false); !s.ok()) return s;
  if (e.payload.empty()) return InvalidArgument("payload: required, got empty bytes");
  return Status();
}

PayloadFormat WrittenPayloadFormat(PayloadFormat format, WireGeneration generation) {
  if (generation != WireGeneration::kCurrent) return PayloadFormat::kBase64;
  return format == PayloadFormat::kBase64 ? PayloadFormat::kBase64 : PayloadFormat::kRawJson;
}

bool IsJsonString(std::string_view json) {
  for (char c : json) {
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return c == '"';
  }
  return false;
}

}  // namespace codec

Status Validate(const Envelope& e, PayloadFormat format, WireGeneration generation) {
  if (Status s = codec::ValidateFields(e, generation != WireGeneration::kSeed); !s.ok()) return s;
  if (codec::WrittenPayloadFormat(format, generation) == PayloadFormat::kRawJson) {
    if (!codec::IsValidJsonValue(e.payload)) {
      return InvalidArgument(
          "payload: not one well-formed JSON value: " + codec::QuoteValue(e.payload) +
          " (use PayloadFormat::kBase64 for arbitrary bytes)");
    }
    // A string on the wire means base64 to every reader (kAuto, jxt-core
    // before cf575b6), so a raw payload that is a string would be misread.
    if (codec::IsJsonString(e.payload)) {
      return InvalidArgument("payload: a JSON string " + codec::QuoteValue(e.payload) +
                             " cannot be sent raw: readers take a string payload as base64;"
                             " wrap it in an object or use PayloadFormat::kBase64");
    }
  }
  return Status();
}

}  // namespace evbus
