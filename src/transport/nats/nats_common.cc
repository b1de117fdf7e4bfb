#include "transport/nats/nats_common.h"

#include <cstdlib>

#include "transport/spare_records.h"

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

namespace {

// Wildcards and white space cannot appear in a subject token; '.' can.
std::string TopicSubject(std::string_view topic) {
  std::string subject(topic);
  for (char& c : subject) {
    if (c == '*' || c == '>' || static_cast<unsigned char>(c) <= ' ') c = '_';
  }
  return subject;
}

}  // namespace

int32_t Partitions(const NatsConfig& config) {
  return config.layout == NatsLayout::kJxt ? 1 : config.partitions;
}

std::string StreamName(const NatsConfig& config, std::string_view topic, int32_t partition) {
  if (!config.stream.empty()) return config.stream;
  return "EVBUS_" + Sanitize(topic) + "_P" + std::to_string(partition);
}

std::string Subject(const NatsConfig& config, std::string_view topic, int32_t partition) {
  if (config.layout == NatsLayout::kJxt) return TopicSubject(topic);
  return TopicSubject(topic) + "." + std::to_string(partition);
}

std::string DurableName(const NatsConfig& config, std::string_view group, std::string_view topic,
                        int32_t partition) {
  if (config.layout == NatsLayout::kJxt) {
    // As jxt-core's subscribeJetStream: "." -> "_", "*" -> "wildcard", ">" -> "all".
    std::string token;
    for (char c : topic) {
      if (c == '.') {
        token += '_';
      } else if (c == '*') {
        token += "wildcard";
      } else if (c == '>') {
        token += "all";
      } else {
        token += c;
      }
    }
    return Sanitize(std::string(group) + "-unified_" + token);
  }
  return Sanitize(std::string(group) + "_" + std::string(topic) + "_" + std::to_string(partition));
}

std::vector<std::string> StreamSubjects(const NatsConfig& config, std::string_view topic,
                                        int32_t partition) {
  if (config.layout == NatsLayout::kJxt) return config.subjects;
  if (!config.stream.empty()) return {TopicSubject(topic) + ".*"};
  return {Subject(config, topic, partition)};
}

bool SubjectMatches(std::string_view pattern, std::string_view subject) {
  while (true) {
    const size_t pd = pattern.find('.');
    const size_t sd = subject.find('.');
    const std::string_view pt = pattern.substr(0, pd);
    const std::string_view st = subject.substr(0, sd);
    if (pt == ">") return !subject.empty();
    if (pt != "*" && pt != st) return false;
    if (pd == std::string_view::npos || sd == std::string_view::npos) {
      return pd == std::string_view::npos && sd == std::string_view::npos;
    }
    pattern.remove_prefix(pd + 1);
    subject.remove_prefix(sd + 1);
  }
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

// The record's key (from kKeyHeader) and headers, over what it held.
void FillKeyAndHeaders(natsMsg* msg, Record& r) {
  r.key.clear();
  HeaderFiller headers(r.headers);
  const char** keys = nullptr;
  int nkeys = 0;
  if (natsMsgHeader_Keys(msg, &keys, &nkeys) != NATS_OK) return;
  for (int i = 0; i < nkeys; ++i) {
    const std::string_view key = keys[i];
    const char** values = nullptr;
    int nvalues = 0;
    if (natsMsgHeader_Values(msg, keys[i], &values, &nvalues) != NATS_OK) continue;
    for (int j = 0; j < nvalues; ++j) {
      if (key == kKeyHeader) {
        r.key.assign(values[j]);
      } else if (key != "Nats-Msg-Id") {
        headers.Add(key, values[j]);
      }
    }
    free(static_cast<void*>(values));
  }
  free(static_cast<void*>(keys));
}

}  // namespace evbus::transport::nats
