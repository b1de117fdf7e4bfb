#include "transport/nats/nats_common.h"

namespace evbus::transport::nats {

std::string Sanitize(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) c = '_';
  }
  return out;
}

std::string StreamName(const NatsConfig& config, std::string_view topic, int32_t partition) {
  if (!config.stream.empty()) return config.stream;
  return "EVBUS_" + Sanitize(topic) + "_P" + std::to_string(partition);
}

std::string Subject(std::string_view topic, int32_t partition) {
  // Wildcards and white space cannot appear in a subject token; '.' can.
  std::string subject(topic);
  for (char& c : subject) {
    if (c == '*' || c == '>' || static_cast<unsigned char>(c) <= ' ') c = '_';
  }
  return subject + "." + std::to_string(partition);
}

std::string DurableName(std::string_view group, std::string_view topic, int32_t partition) {
  return Sanitize(std::string(group) + "_" + std::string(topic) + "_" + std::to_string(partition));
}

Status NatsError(std::string_view what, natsStatus s, jsErrCode jerr) {
  std::string message = std::string(what) + ": " + natsStatus_GetText(s);
  natsStatus last = NATS_OK;
  if (const char* detail = nats_GetLastError(&last); detail != nullptr && *detail != '\0') {
    message += std::string(" (") + detail + ")";
  }
  if (jerr != 0) message += ", JetStream error " + std::to_string(static_cast<int>(jerr));
  ErrorCode code = ErrorCode::kInternal;
  switch (s) {
    case NATS_CONNECTION_CLOSED:
    case NATS_CONNECTION_DISCONNECTED:
    case NATS_NO_SERVER:
    case NATS_STALE_CONNECTION:
    case NATS_TIMEOUT:
    case NATS_NO_RESPONDERS:
    case NATS_IO_ERROR:
    case NATS_SLOW_CONSUMER:
      code = ErrorCode::kUnavailable;
      break;
    case NATS_NOT_FOUND:
      code = ErrorCode::kNotFound;
      break;
    default:
      break;
  }
  if (jerr == JSStreamNotFoundErr || jerr == JSConsumerNotFoundErr) code = ErrorCode::kNotFound;
  return Status(code, std::move(message));
}

}  // namespace evbus::transport::nats
