// What the Kafka tests share: the broker under test (EVBUS_KAFKA_BROKERS),
// whether it answers, and the bus settings the tests use against it.

#ifndef EVBUS_TESTS_KAFKA_SUPPORT_H_
#define EVBUS_TESTS_KAFKA_SUPPORT_H_

#include <librdkafka/rdkafka.h>

#include <cstdlib>
#include <string>

#include "evbus/config.h"
#include "test_support.h"

namespace evbus::test {

inline std::string Brokers() {
  const char* env = std::getenv("EVBUS_KAFKA_BROKERS");
  return env != nullptr ? env : "127.0.0.1:19092";
}

// Empty when a broker answers; in CI a missing broker fails instead of skipping.
inline std::string KafkaUnavailable() {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", Brokers().c_str(), err, sizeof(err));
  rd_kafka_conf_set(conf, "log_level", "0", err, sizeof(err));
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  const rd_kafka_metadata_t* md = nullptr;
  const bool up =
      rk != nullptr && rd_kafka_metadata(rk, 0, nullptr, &md, 3000) == RD_KAFKA_RESP_ERR_NO_ERROR;
  if (md != nullptr) rd_kafka_metadata_destroy(md);
  if (rk != nullptr) rd_kafka_destroy(rk);
  if (up) return "";
  const char* ci = std::getenv("CI");
  if (ci != nullptr && std::string(ci) == "true") return "";  // fail loudly in CI
  return "no Kafka broker at " + Brokers() + " (run scripts/kafka up)";
}

inline Config KafkaConfig(const std::string&) {
  Config c = MemoryConfig("unused");
  c.transport = TransportKind::kKafka;
  c.kafka.brokers = {Brokers()};
  c.kafka.topic_partitions = 4;
  c.kafka.replication_factor = 1;
  c.kafka.linger = std::chrono::milliseconds(1);
  c.kafka.session_timeout = std::chrono::seconds(6);
  c.kafka.heartbeat_interval = std::chrono::milliseconds(500);
  c.kafka.properties["topic.metadata.refresh.interval.ms"] = "1000";
  c.kafka.properties["log_level"] = "3";
  return c;
}

}  // namespace evbus::test

#endif  // EVBUS_TESTS_KAFKA_SUPPORT_H_
