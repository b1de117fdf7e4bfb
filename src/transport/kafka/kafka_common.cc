#include "transport/kafka/kafka_common.h"

#include <chrono>
#include <functional>

#include "core/thread.h"
#include "transport/spare_records.h"

namespace evbus::transport::kafka {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

std::string Ms(Duration d) { return std::to_string(duration_cast<milliseconds>(d).count()); }

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) {
    if (!out.empty()) out += ',';
    out += s;
  }
  return out;
}

rd_kafka_resp_err_t OnThreadStart(rd_kafka_t*, rd_kafka_thread_type_t, const char*, void* opaque) {
  static_cast<ThreadTracker*>(opaque)->Started();
  return RD_KAFKA_RESP_ERR_NO_ERROR;
}

rd_kafka_resp_err_t OnThreadExit(rd_kafka_t*, rd_kafka_thread_type_t, const char*, void* opaque) {
  static_cast<ThreadTracker*>(opaque)->Exiting();
  return RD_KAFKA_RESP_ERR_NO_ERROR;
}

rd_kafka_resp_err_t OnNew(rd_kafka_t* rk, const rd_kafka_conf_t*, void* opaque, char*, size_t) {
  rd_kafka_interceptor_add_on_thread_start(rk, "evbus-census", OnThreadStart, opaque);
  rd_kafka_interceptor_add_on_thread_exit(rk, "evbus-census", OnThreadExit, opaque);
  return RD_KAFKA_RESP_ERR_NO_ERROR;
}

void OnError(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  HandleContext* context = static_cast<HandleContext*>(opaque);
  KafkaShared* shared = context->shared;
  const auto code = static_cast<rd_kafka_resp_err_t>(err);
  if (code == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
    context->all_brokers_down.store(true, std::memory_order_release);
    shared->SetConnected(
        false, FromKafka(code, std::string("kafka ") + rd_kafka_name(rk) + ": " + reason));
  }
  if (code == RD_KAFKA_RESP_ERR__FATAL) {
    shared->SetFatal(FatalError(rk));
    return;
  }
  shared->Report(FromKafka(code, std::string("kafka ") + rd_kafka_name(rk) + ": " + reason));
}

void OnLog(const rd_kafka_t*, int level, const char* fac, const char* buf) {
  // librdkafka's own diagnostics: warnings and worse only, to stderr.
  if (level <= 4) std::fprintf(stderr, "evbus kafka %s: %s\n", fac, buf);
}

class ConfBuilder {
 public:
  explicit ConfBuilder(rd_kafka_conf_t* conf) : conf_(conf) {}
  // Sets `name` unless a previous Set failed; `path` names the evbus setting.
  void Set(const std::string& name, const std::string& value, const std::string& path) {
    if (!status_.ok()) return;
    char err[512];
    if (rd_kafka_conf_set(conf_, name.c_str(), value.c_str(), err, sizeof(err)) !=
        RD_KAFKA_CONF_OK) {
      status_ = InvalidArgument(path + ": " + err);
    }
  }
  Status status() const { return status_; }

 private:
  rd_kafka_conf_t* conf_;
  Status status_;
};

}  // namespace

void ThreadTracker::Attach(rd_kafka_conf_t* conf) {
  rd_kafka_conf_interceptor_add_on_new(conf, "evbus-census", OnNew, this);
}

void ThreadTracker::Started() {
  const int tid = core::CurrentTid();
  core::RegisterThread(tid, "librdkafka", bus_id_);
  std::lock_guard<std::mutex> lock(mu_);
  tids_.push_back(tid);
}

void ThreadTracker::Exiting() { core::UnregisterThread(core::CurrentTid()); }

void ThreadTracker::WaitForExit() {
  std::vector<int> tids;
  {
    std::lock_guard<std::mutex> lock(mu_);
    tids.swap(tids_);
  }
  for (int tid : tids) core::WaitForTaskGone(tid);
}

void Handle::Destroy(int flags) {
  if (rk_ == nullptr) return;
  rd_kafka_destroy_flags(rk_, flags);  // joins every thread of the handle
  rk_ = nullptr;
  if (threads_) threads_->WaitForExit();
}

Result<ConfPtr> BuildConf(const Config& config, Role role, HandleContext* context,
                          ThreadTracker* threads) {
  ConfPtr conf(rd_kafka_conf_new());
  const KafkaConfig& k = config.kafka;
  ConfBuilder b(conf.get());
  b.Set("bootstrap.servers", Join(k.brokers), "kafka.brokers");
  b.Set("client.id", k.client_id, "kafka.client_id");
  b.Set("security.protocol", k.security_protocol, "kafka.security_protocol");
  if (!k.sasl_mechanism.empty()) b.Set("sasl.mechanisms", k.sasl_mechanism, "kafka.sasl_mechanism");
  if (!k.sasl_username.empty()) b.Set("sasl.username", k.sasl_username, "kafka.sasl_username");
  if (!k.sasl_password.empty()) b.Set("sasl.password", k.sasl_password, "kafka.sasl_password");
  if (!k.ssl_ca_location.empty())
    b.Set("ssl.ca.location", k.ssl_ca_location, "kafka.ssl_ca_location");
  if (role == Role::kProducer) {
    b.Set("enable.idempotence", k.idempotent ? "true" : "false", "kafka.producer.idempotent");
    b.Set("acks", k.acks, "kafka.producer.acks");
    b.Set("compression.type", k.compression, "kafka.producer.compression");
    b.Set("linger.ms", Ms(k.linger), "kafka.producer.linger");
    b.Set("batch.size", std::to_string(k.batch_bytes), "kafka.producer.batch_bytes");
    b.Set("partitioner", k.partitioner, "kafka.producer.partitioner");
    // evbus bounds outstanding publishes itself (publisher.max_in_flight).
    b.Set("queue.buffering.max.messages",
          std::to_string(std::min<int64_t>(config.publisher.max_in_flight + 1000, 10'000'000)),
          "publisher.max_in_flight");
  } else if (role == Role::kConsumer) {
    b.Set("group.id", config.subscriber.group, "subscriber.group");
    b.Set("enable.auto.commit", "false", "subscriber");  // only the frontier commits
    b.Set("enable.auto.offset.store", "false", "subscriber");
    b.Set("auto.offset.reset",
          config.subscriber.auto_offset_reset == OffsetReset::kEarliest ? "earliest" : "latest",
          "subscriber.auto_offset_reset");
    b.Set("session.timeout.ms", Ms(k.session_timeout), "kafka.consumer.session_timeout");
    b.Set("heartbeat.interval.ms", Ms(k.heartbeat_interval), "kafka.consumer.heartbeat_interval");
    b.Set("max.poll.interval.ms", Ms(k.max_poll_interval), "kafka.consumer.max_poll_interval");
    b.Set("partition.assignment.strategy", k.assignor, "kafka.consumer.assignor");
    b.Set("isolation.level", k.isolation_level, "kafka.consumer.isolation_level");
    // Prefetch limits. Once a queue passes either one, librdkafka 2.0 stops
    // fetching for it until its broker thread next wakes, up to a second
    // later, however soon the queue drains: with the default limit of
    // 100 000 messages a backlog was read at 150 k messages/s on the local
    // broker, against 1 M/s with the count out of the way. So only bytes bound
    // a queue, at librdkafka's default of 64 MiB: the consumer queue, and each
    // paused partition's own queue (kafka_consumer.h). A smaller limit stalls
    // the same way (16 MiB: 150 k/s). kafka.properties overrides both.
    b.Set("queued.min.messages", "10000000", "kafka (evbus default)");
    // The fetcher re-decides what to fetch after each fetch response; a short
    // long-poll lets a partition whose queue drained be fetched again soon
    // (librdkafka's default 500 ms). kafka.properties overrides both.
    b.Set("fetch.wait.max.ms", "10", "kafka (evbus default)");
    if (!k.group_instance_id.empty()) {
      b.Set("group.instance.id", k.group_instance_id, "kafka.consumer.group_instance_id");
    }
  }
  for (const auto& [name, value] : k.properties) b.Set(name, value, "kafka.properties." + name);
  if (Status s = b.status(); !s.ok()) return s;
  rd_kafka_conf_set_opaque(conf.get(), context);
  rd_kafka_conf_set_error_cb(conf.get(), OnError);
  rd_kafka_conf_set_log_cb(conf.get(), OnLog);
  if (threads != nullptr) threads->Attach(conf.get());
  return conf;
}

Result<Handle> NewHandle(const Config& config, Role role, KafkaShared* shared, uint64_t bus_id,
                         void* owner, const std::function<Status(rd_kafka_conf_t*)>& customize) {
  auto threads = std::make_unique<ThreadTracker>(bus_id);
  auto context = std::make_unique<HandleContext>();
  context->shared = shared;
  context->owner = owner;
  Result<ConfPtr> conf = BuildConf(config, role, context.get(), threads.get());
  if (!conf.ok()) return conf.status();
  if (customize) {
    if (Status s = customize(conf->get()); !s.ok()) return s;
  }
  char err[512];
  const rd_kafka_type_t type = role == Role::kConsumer ? RD_KAFKA_CONSUMER : RD_KAFKA_PRODUCER;
  // rd_kafka_new takes the conf only on success.
  rd_kafka_t* rk = rd_kafka_new(type, conf->get(), err, sizeof(err));
  if (rk == nullptr) return InvalidArgument(std::string("kafka: cannot create client: ") + err);
  (void)conf->release();
  return Handle(rk, std::move(threads), std::move(context));
}

Status FatalError(rd_kafka_t* rk) {
  char reason[512];
  const rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, reason, sizeof(reason));
  if (orig == RD_KAFKA_RESP_ERR_NO_ERROR) return Status();
  return Status(ErrorCode::kFailedPrecondition,
                std::string("kafka fatal error in ") + rd_kafka_name(rk) + " (" +
                    rd_kafka_err2name(orig) + "): " + reason +
                    "; this bus can no longer use Kafka: close it and create a new one");
}

Status FromKafka(rd_kafka_resp_err_t err, const std::string& context) {
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return Status();
  std::string m = context + ": " + rd_kafka_err2name(err) + " (" + rd_kafka_err2str(err) + ")";
  switch (err) {
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
      return Status(ErrorCode::kQueueFull, std::move(m));
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
      return Status(ErrorCode::kTimeout, std::move(m));
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
      return Status(ErrorCode::kNotFound, std::move(m));
    case RD_KAFKA_RESP_ERR__PURGE_QUEUE:
    case RD_KAFKA_RESP_ERR__PURGE_INFLIGHT:
    case RD_KAFKA_RESP_ERR__DESTROY:
      return Status(ErrorCode::kClosed, std::move(m));
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
      return Status(ErrorCode::kFailedPrecondition, std::move(m));
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
      return InvalidArgument(std::move(m));
    default:
      return Status(ErrorCode::kUnavailable, std::move(m));
  }
}

void FillRecord(const rd_kafka_message_t& msg, Record& r) {
  r.topic.assign(rd_kafka_topic_name(msg.rkt));
  if (msg.key != nullptr) {
    r.key.assign(static_cast<const char*>(msg.key), msg.key_len);
  } else {
    r.key.clear();
  }
  if (msg.payload != nullptr) {
    r.payload.assign(static_cast<const char*>(msg.payload), msg.len);
  } else {
    r.payload.clear();
  }
  {
    HeaderFiller headers(r.headers);
    rd_kafka_headers_t* hdrs = nullptr;
    if (rd_kafka_message_headers(&msg, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      const char* name;
      const void* value;
      size_t size;
      for (size_t i = 0;
           rd_kafka_header_get_all(hdrs, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
           ++i) {
        headers.Add(name, value != nullptr ? std::string_view(static_cast<const char*>(value), size)
                                           : std::string_view());
      }
    }
  }
  r.partition = msg.partition;
  r.offset = msg.offset;
  rd_kafka_timestamp_type_t type;
  const int64_t ms = rd_kafka_message_timestamp(&msg, &type);
  r.timestamp = ms >= 0 ? std::chrono::system_clock::time_point(std::chrono::milliseconds(ms))
                        : std::chrono::system_clock::time_point{};
}

}  // namespace evbus::transport::kafka
