// What the NATS tests share: the server under test (EVBUS_NATS_URL), a
// config on it, and whether it answers.

#ifndef EVBUS_TESTS_NATS_SUPPORT_H_
#define EVBUS_TESTS_NATS_SUPPORT_H_

#include <cstdlib>
#include <string>

#include "evbus/config.h"
#include "test_support.h"
#include "transport/nats/nats_transport.h"

namespace evbus::test {

inline std::string NatsTestUrl() {
  const char* url = std::getenv("EVBUS_NATS_URL");
  return url != nullptr && *url != '\0' ? url : "nats://127.0.0.1:14222";
}

inline Config NatsTestBaseConfig() {
  Config c;
  c.transport = TransportKind::kNats;
  c.nats.urls = {NatsTestUrl()};
  c.nats.storage = "memory";
  c.nats.ack_wait = std::chrono::seconds(2);
  UseFastTestSettings(c);
  return c;
}

// Test names repeat across runs and the server outlives them: streams (and
// their durable consumers) left by an earlier run of `unique` are deleted.
inline Config NatsTestConfig(const std::string& unique) {
  Config c = NatsTestBaseConfig();
  if (!unique.empty()) {
    Status s = transport::nats::DeleteTopics(c, unique);
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  return c;
}

// In CI the server must be there: an empty reason makes a missing server fail.
inline std::string NatsTestUnavailable() {
  const char* ci = std::getenv("CI");
  if (ci != nullptr && std::string(ci) == "true") return "";
  Config c = NatsTestBaseConfig();
  c.nats.connect_timeout = std::chrono::milliseconds(500);
  std::string why = transport::nats::ProbeServer(c.nats);
  return why.empty() ? "" : why + " (scripts/nats up)";
}

}  // namespace evbus::test

#endif  // EVBUS_TESTS_NATS_SUPPORT_H_
