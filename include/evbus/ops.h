// Operations: what a bus reports about itself while it runs — backlog (lag,
// stalled partitions, publisher backlog), jxt-core health checks, connection
// state — and the callbacks those reach.
//
// Every callback here runs on a bus thread ("evb-ops" for backlog and health,
// a transport thread for connection changes) and never while evbus holds an
// internal lock, so it may call back into the bus (except Close()). A slow
// callback delays the next check, not message processing.
//
// Thread safety: plain value types.

#ifndef EVBUS_OPS_H_
#define EVBUS_OPS_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "evbus/config.h"
#include "evbus/export.h"
#include "evbus/status.h"

namespace evbus {

// ---------------------------------------------------------------- backlog

// One assigned partition, as last sampled (every subscriber.backlog_interval).
struct PartitionBacklog {
  std::string topic;
  int32_t partition = 0;
  int64_t lag = 0;        // broker: log end - committed (Kafka, memory); pending (NATS)
  int64_t in_flight = 0;  // read by the bus and not yet settled
  // How long the commit frontier has not moved while messages were in flight;
  // 0 when it moved since the last sample or nothing is in flight.
  std::chrono::milliseconds stalled_for{0};
  bool stalled = false;  // stalled_for >= subscriber.stall_timeout (when that is > 0)
};

struct BacklogState {
  // Subscriber side: some partition's lag >= subscriber.backlog_lag, or a
  // partition is stalled.
  bool subscriber_backlog = false;
  int64_t total_lag = 0;
  int stalled_partitions = 0;
  std::vector<PartitionBacklog> partitions;
  // Publisher side: publish_in_flight >= publisher.backlog_in_flight, or the
  // average completion latency >= publisher.backlog_latency (when > 0).
  bool publisher_backlog = false;
  int64_t publish_in_flight = 0;
  std::chrono::microseconds avg_publish_latency{0};  // since the previous check; 0 if none
  std::chrono::system_clock::time_point sampled_at{};
  std::string detail;  // what crossed a threshold, for people
};

// Called when subscriber_backlog or publisher_backlog changes (into or out of backlog).
using BacklogCallback = std::function<void(const BacklogState&)>;

// ---------------------------------------------------------------- health checks

// The health-check publisher (health_check.publish): one jxt-core health
// message every health_check.interval; a publish that fails or is not
// acknowledged within health_check.timeout is a failure.
struct HealthPublisherStatus {
  bool running = false;
  bool healthy = false;  // consecutive_failures < health_check.failure_threshold
  int consecutive_failures = 0;
  uint64_t sent = 0;
  uint64_t failed = 0;
  std::chrono::system_clock::time_point last_success{};
  std::string last_error;
};

enum class AlertSeverity { kInfo, kWarning, kError, kCritical };
EVBUS_EXPORT std::string_view ToString(AlertSeverity severity);

// From the health-check monitor (health_check.monitor): "no_messages" when no
// valid health message arrived for an interval; severity grows with
// consecutive misses (critical at health_check.failure_threshold, error from
// half of it). "recovered" (kInfo) when messages arrive again.
struct HealthAlert {
  std::string alert_type;  // "no_messages" or "recovered"
  AlertSeverity severity = AlertSeverity::kWarning;
  std::string topic;
  std::string source;          // of the last valid message, if any
  std::string event_bus_type;  // of the last valid message, if any
  int consecutive_misses = 0;
  std::chrono::milliseconds time_since_last_message{0};  // since start, if none yet
  std::chrono::milliseconds expected_interval{0};
  std::chrono::system_clock::time_point timestamp{};
  std::string message;  // for people
};
using HealthAlertCallback = std::function<void(const HealthAlert&)>;

struct HealthMonitorStats {
  bool running = false;
  bool healthy = false;  // no alert active
  uint64_t received = 0;
  uint64_t invalid = 0;  // messages on the topic that were not valid health messages
  int consecutive_misses = 0;
  AlertSeverity severity = AlertSeverity::kInfo;  // of the active alert, kInfo when none
  std::string last_source;
  std::chrono::system_clock::time_point last_message{};
};

// ---------------------------------------------------------------- connection state

// A transport's connection changed. Memory is always connected; Kafka reports
// "all brokers down" and its recovery; NATS reports disconnects and reconnects.
struct ConnectionEvent {
  std::string transport;  // "memory", "kafka", "nats"
  bool connected = false;
  Status reason;  // why it disconnected (OK on connect)
  std::chrono::system_clock::time_point at{};
};
using ConnectionCallback = std::function<void(const ConnectionEvent&)>;

// ---------------------------------------------------------------- group lag

// One partition of a consumer group, read from the broker (not from a bus).
struct GroupPartitionLag {
  std::string topic;
  int32_t partition = 0;
  int64_t committed = -1;  // next offset the group will read; -1 when it never committed
  int64_t log_end = 0;     // next offset the broker will write
  int64_t lag = 0;         // messages the group has not settled
};

// The lag of consumer group `group` per topic and partition, asked from the
// brokers of `config` without joining the group (what `evbus lag` prints).
// Kafka: high watermark - committed offset; with `topics` empty, every topic
// the group has committed offsets for. NATS: pending + ack-pending of the
// group's durable consumer of each partition stream; `topics` required.
// Sorted by topic, then partition.
// Errors: InvalidArgument (memory: its broker lives inside one process; NATS
// without topics), NotFound (a topic is missing), Unavailable.
EVBUS_EXPORT Result<std::vector<GroupPartitionLag>> ReadGroupLag(
    const Config& config, const std::string& group, const std::vector<std::string>& topics);

}  // namespace evbus

#endif  // EVBUS_OPS_H_
