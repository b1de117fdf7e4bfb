// Record: one message as a transport carries it.
//
// A record is what is published and what a raw handler receives: a topic, an
// optional key, ordered headers (a key may repeat), opaque payload bytes, and,
// once stored by the broker, its partition, offset and timestamp.
//
// Thread safety: a plain value type.

#ifndef EVBUS_RECORD_H_
#define EVBUS_RECORD_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "evbus/export.h"

namespace evbus {

struct Header {
  std::string key;
  std::string value;
  bool operator==(const Header&) const = default;
};

// Headers keep their order; a key may appear more than once.
using Headers = std::vector<Header>;

// Returns the value of the first header named `key` (exact match), if any.
EVBUS_EXPORT std::optional<std::string_view> FindHeader(const Headers& headers,
                                                        std::string_view key);

struct Record {
  std::string topic;
  // Partitioning key. Empty means "no key": such a record goes to a random
  // partition (Kafka, memory). Envelopes use their aggregate id.
  std::string key;
  Headers headers;
  std::string payload;

  // Set by the broker; -1 on a record that has not been stored yet.
  int32_t partition = -1;
  int64_t offset = -1;
  // Broker (or producer) time of the record.
  std::chrono::system_clock::time_point timestamp{};
};

}  // namespace evbus

#endif  // EVBUS_RECORD_H_
