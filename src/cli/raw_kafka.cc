// The Kafka baseline for `evbus bench`: the same workload through librdkafka
// alone, with the settings evbus uses (idempotent producer, acks=all, the
// configured compression/linger/partitioner; a group consumer with manual
// commits), decoding envelopes like evbus does, so the ratio evbus / raw
// measures what the engine costs.

#ifdef EVBUS_WITH_KAFKA

#include <librdkafka/rdkafka.h>

#include <cstring>
#include <map>

#include "cli/workload.h"
#include "cli/workload_tally.h"
#include "core/thread.h"
#include "transport/transport.h"

namespace evbus::cli {
namespace {

rd_kafka_t* NewClient(rd_kafka_type_t type, const Config& config,
                      const std::map<std::string, std::string>& extra, std::string& error) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  std::string brokers;
  for (const std::string& b : config.kafka.brokers) brokers += (brokers.empty() ? "" : ",") + b;
  std::map<std::string, std::string> settings = {{"bootstrap.servers", brokers}};
  for (const auto& [k, v] : config.kafka.properties) settings[k] = v;
  for (const auto& [k, v] : extra) settings[k] = v;
  for (const auto& [k, v] : settings) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
      error = k + ": " + err;
      rd_kafka_conf_destroy(conf);
      return nullptr;
    }
  }
  if (type == RD_KAFKA_PRODUCER) {
    rd_kafka_conf_set_dr_msg_cb(conf, [](rd_kafka_t*, const rd_kafka_message_t* m, void*) {
      if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        static_cast<std::atomic<int64_t>*>(m->_private)->fetch_add(1);
      }
    });
  }
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof(err));
  if (rk == nullptr) error = err;
  return rk;
}

}  // namespace

Result<WorkloadResult> RunRawKafka(const WorkloadOptions& o) {
  WorkloadResult result;
  Tally tally(o);
  const KafkaConfig& k = o.config.kafka;
  {  // the topics as evbus would create them (kafka.topic_partitions)
    Result<std::unique_ptr<transport::Transport>> t = transport::CreateTransport(o.config, 0);
    if (!t.ok()) return t.status();
    for (const std::string& topic : WorkloadTopics(o)) {
      if (Status s = (*t)->EnsureTopic(topic); !s.ok()) return s;
    }
  }
  std::string error;
  rd_kafka_t* producer = NewClient(
      RD_KAFKA_PRODUCER, o.config,
      {{"enable.idempotence", k.idempotent ? "true" : "false"},
       {"acks", k.acks},
       {"compression.type", k.compression},
       {"linger.ms",
        std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(k.linger).count())},
       {"batch.size", std::to_string(k.batch_bytes)},
       {"partitioner", k.partitioner}},
      error);
  if (producer == nullptr) return InvalidArgument("raw kafka producer: " + error);
  // As evbus's producer does on a topic's first publish: load its metadata,
  // or librdkafka may hold the first records until its next scan.
  for (const std::string& topic : WorkloadTopics(o)) {
    rd_kafka_topic_t* rkt = rd_kafka_topic_new(producer, topic.c_str(), nullptr);
    const rd_kafka_metadata_t* md = nullptr;
    if (rd_kafka_metadata(producer, 0, rkt, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_metadata_destroy(md);
    }
    rd_kafka_topic_destroy(rkt);
  }
  rd_kafka_t* consumer = NewClient(RD_KAFKA_CONSUMER, o.config,
                                   {{"group.id", o.config.subscriber.group + "-raw"},
                                    {"enable.auto.commit", "false"},
                                    {"auto.offset.reset", "earliest"}},
                                   error);
  if (consumer == nullptr) {
    rd_kafka_destroy(producer);
    return InvalidArgument("raw kafka consumer: " + error);
  }
  rd_kafka_poll_set_consumer(consumer);
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(o.topics);
  for (const std::string& topic : WorkloadTopics(o)) {
    rd_kafka_topic_partition_list_add(topics, topic.c_str(), RD_KAFKA_PARTITION_UA);
  }
  rd_kafka_subscribe(consumer, topics);
  rd_kafka_topic_partition_list_destroy(topics);

  std::atomic<bool> stop{false};
  core::Thread reader = core::Thread::Start(
      "evb-raw-read", "bench-baseline", 0,
      [&] {  // one consumer thread: poll, decode, check, commit
        Envelope e;
        int since_commit = 0;
        while (!stop.load(std::memory_order_acquire)) {
          rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 100);
          if (m == nullptr) continue;
          if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            const std::string_view payload(static_cast<const char*>(m->payload), m->len);
            if (o.envelopes) {
              if (DecodeEnvelopeInto(payload, e).ok()) TallyEnvelope(tally, o, e);
            } else {
              Record r;
              r.payload.assign(payload);
              TallyRaw(tally, o, r);
            }
            if (++since_commit >= 500) {
              rd_kafka_commit_message(consumer, m, 1);
              since_commit = 0;
            }
          }
          rd_kafka_message_destroy(m);
        }
      });
  std::atomic<int64_t> publish_errors{0};
  core::Thread poller =
      core::Thread::Start("evb-raw-prod", "bench-baseline", 0, [&] {  // serves delivery reports
        while (!stop.load(std::memory_order_acquire)) rd_kafka_poll(producer, 100);
      });
  std::chrono::steady_clock::time_point start;
  const Status failed = PublishRawWorkload(o, tally, result, start, [&](int64_t, Record& r) {
    rd_kafka_resp_err_t err;
    do {
      // The same headers evbus sends (none for plain records): a fair baseline.
      rd_kafka_headers_t* headers = rd_kafka_headers_new(r.headers.size());
      for (const Header& h : r.headers) {
        rd_kafka_header_add(headers, h.key.data(), static_cast<ssize_t>(h.key.size()),
                            h.value.data(), static_cast<ssize_t>(h.value.size()));
      }
      err = rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(r.topic.c_str()),
                              RD_KAFKA_V_KEY(r.key.data(), r.key.size()),
                              RD_KAFKA_V_VALUE(r.payload.data(), r.payload.size()),
                              RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_OPAQUE(&publish_errors), RD_KAFKA_V_END);
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR) rd_kafka_headers_destroy(headers);  // not taken
      if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) rd_kafka_poll(producer, 10);
    } while (err == RD_KAFKA_RESP_ERR__QUEUE_FULL);
  });
  const auto end =
      failed.ok() ? tally.WaitForAll(std::chrono::seconds(120)) : std::chrono::steady_clock::now();
  stop.store(true, std::memory_order_release);
  reader.Join();
  poller.Join();
  tally.Fill(result, start, end);
  const auto close_start = std::chrono::steady_clock::now();
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);
  result.close_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - close_start)
          .count();
  rd_kafka_flush(producer, 10000);
  rd_kafka_destroy(producer);
  result.publish_errors = publish_errors.load();
  result.peak_rss_kb = PeakRssKb();
  if (!failed.ok()) return failed;
  return result;
}

}  // namespace evbus::cli

#endif  // EVBUS_WITH_KAFKA
