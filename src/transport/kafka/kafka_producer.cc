#include "transport/kafka/kafka_producer.h"

#include <algorithm>

#include "core/completion_thread.h"

namespace evbus::transport::kafka {
namespace {

int RemainingMs(Clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<int64_t>(left, 0, 1'000'000'000));
}

// A record for a partition the topic does not have: the caller's mistake, named.
Status UnknownPartition(const std::string& topic, int32_t partition) {
  return InvalidArgument("publish to " + topic + ": partition " + std::to_string(partition) +
                         " is out of range: the topic has no such partition");
}

void OnDelivery(rd_kafka_t* rk, const rd_kafka_message_t* msg, void* opaque) {
  auto* done = static_cast<DeliveryCallback*>(msg->_private);
  if (done == nullptr) return;
  KafkaShared* shared = static_cast<HandleContext*>(opaque)->shared;
  Status status;
  if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    // After a fatal error librdkafka purges what is queued: report the cause
    // (whether or not the error event has been served yet).
    if (Status fatal = FatalError(rk); !fatal.ok()) {
      shared->SetFatal(fatal);
      status = shared->Fatal();
    } else if (msg->err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION) {
      status = UnknownPartition(rd_kafka_topic_name(msg->rkt), msg->partition);
    } else {
      status = FromKafka(msg->err, std::string("delivery to ") + rd_kafka_topic_name(msg->rkt));
    }
  } else {
    shared->MarkConnected();
  }
  (*done)(status, msg->partition, msg->offset);
  delete done;
}

}  // namespace

Result<std::unique_ptr<KafkaProducer>> KafkaProducer::Create(const Config& config,
                                                             KafkaShared* shared, uint64_t bus_id,
                                                             EnsureTopicFn ensure_topic) {
  std::unique_ptr<KafkaProducer> p(new KafkaProducer(shared));
  p->ensure_topic_ = std::move(ensure_topic);
  Result<Handle> h =
      NewHandle(config, Role::kProducer, shared, bus_id, p.get(), [](rd_kafka_conf_t* conf) {
        rd_kafka_conf_set_dr_msg_cb(conf, OnDelivery);
        return Status();
      });
  if (!h.ok()) return h.status();
  p->handle_ = std::move(h).value();
  p->poller_ = core::Thread::Start("evb-kprod", "kafka-producer", bus_id,
                                   [raw = p.get()] { raw->PollLoop(); });
  return p;
}

Result<rd_kafka_topic_t*> KafkaProducer::TopicHandle(const std::string& topic) {
  {
    std::lock_guard<std::mutex> lock(topics_mu_);
    auto it = topics_.find(topic);
    if (it != topics_.end()) return it->second;
  }
  // First record to this topic. A broker that cannot be asked now (down,
  // slow) does not fail the publish: librdkafka holds the record until it is back.
  if (ensure_topic_) {
    Status ensured = ensure_topic_(topic);
    if (!ensured.ok() && ensured.code() != ErrorCode::kUnavailable &&
        ensured.code() != ErrorCode::kTimeout) {
      return ensured;
    }
  }
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(handle_.get(), topic.c_str(), nullptr);
  if (rkt == nullptr) {
    return FromKafka(rd_kafka_last_error(), "produce to " + topic + ": topic handle");
  }
  // Off-lock: a metadata round trip. Its result only fills librdkafka's
  // cache; an error (e.g. broker down) is reported by the delivery instead.
  const rd_kafka_metadata_t* md = nullptr;
  if (rd_kafka_metadata(handle_.get(), 0, rkt, &md, static_cast<int>(kTopicPrimeWait.count())) ==
      RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_metadata_destroy(md);
  }
  std::lock_guard<std::mutex> lock(topics_mu_);
  auto [it, inserted] = topics_.emplace(topic, rkt);
  if (!inserted) rd_kafka_topic_destroy(rkt);  // another publish got there first
  return it->second;
}

void KafkaProducer::DestroyTopicHandles() {
  std::lock_guard<std::mutex> lock(topics_mu_);
  for (auto& [name, rkt] : topics_) rd_kafka_topic_destroy(rkt);
  topics_.clear();
}

void KafkaProducer::PollLoop() {
  core::MarkCompletionThread();  // every delivery report runs here
  while (!stopping_.load(std::memory_order_acquire)) rd_kafka_poll(handle_.get(), 100);
}

Status KafkaProducer::Produce(Record&& record, DeliveryCallback done) {
  // Checked before the lock too: a delivery report Close serves may publish.
  if (closed_.load(std::memory_order_acquire)) return Closed("kafka producer is closed");
  std::shared_lock<std::shared_mutex> use(use_mu_);
  if (destroyed_) return Closed("kafka producer is closed");
  if (Status fatal = shared_->Fatal(); !fatal.ok()) return fatal;
  Result<rd_kafka_topic_t*> handle = TopicHandle(record.topic);
  if (!handle.ok()) return handle.status();
  rd_kafka_topic_t* rkt = *handle;
  rd_kafka_headers_t* headers = nullptr;
  if (!record.headers.empty()) {
    headers = rd_kafka_headers_new(record.headers.size());
    for (const Header& h : record.headers) {
      rd_kafka_header_add(headers, h.key.data(), static_cast<ssize_t>(h.key.size()), h.value.data(),
                          static_cast<ssize_t>(h.value.size()));
    }
  }
  auto* opaque = new DeliveryCallback(std::move(done));
  // An empty key is "no key": librdkafka's *_random partitioners then spread it.
  const void* key = record.key.empty() ? nullptr : record.key.data();
  // The array form of rd_kafka_producev (whose macros are GNU extensions).
  rd_kafka_vu_t vus[7];
  vus[0].vtype = RD_KAFKA_VTYPE_RKT;
  vus[0].u.rkt = rkt;
  vus[1].vtype = RD_KAFKA_VTYPE_KEY;
  vus[1].u.mem.ptr = const_cast<void*>(key);
  vus[1].u.mem.size = record.key.size();
  vus[2].vtype = RD_KAFKA_VTYPE_VALUE;
  vus[2].u.mem.ptr = record.payload.data();
  vus[2].u.mem.size = record.payload.size();
  vus[3].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
  vus[3].u.i = RD_KAFKA_MSG_F_COPY;
  vus[4].vtype = RD_KAFKA_VTYPE_OPAQUE;
  vus[4].u.ptr = opaque;
  size_t count = 5;
  if (headers != nullptr) {
    vus[count].vtype = RD_KAFKA_VTYPE_HEADERS;
    vus[count++].u.headers = headers;
  }
  if (record.partition >= 0) {  // chosen by the publisher, over the partitioner's choice
    vus[count].vtype = RD_KAFKA_VTYPE_PARTITION;
    vus[count++].u.i32 = record.partition;
  }
  rd_kafka_error_t* error = rd_kafka_produceva(handle_.get(), vus, count);
  const rd_kafka_resp_err_t err = error ? rd_kafka_error_code(error) : RD_KAFKA_RESP_ERR_NO_ERROR;
  if (error != nullptr) rd_kafka_error_destroy(error);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    // Not accepted: librdkafka took neither the headers nor the opaque.
    if (headers != nullptr) rd_kafka_headers_destroy(headers);
    delete opaque;
    // Refused because the client hit a fatal error meanwhile (e.g. while the
    // topic's metadata loaded): the cause, as every later publish reports it.
    if (Status fatal = FatalError(handle_.get()); !fatal.ok()) {
      shared_->SetFatal(fatal);
      return shared_->Fatal();
    }
    if (err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION) {
      return UnknownPartition(record.topic, record.partition);
    }
    return FromKafka(err, "produce to " + record.topic);
  }
  return Status();
}

Status KafkaProducer::Flush(Clock::time_point deadline) {
  if (!handle_) return Status();
  const rd_kafka_resp_err_t err = rd_kafka_flush(handle_.get(), RemainingMs(deadline));
  if (err == RD_KAFKA_RESP_ERR__TIMED_OUT) {
    return Status(ErrorCode::kTimeout,
                  "kafka flush: " + std::to_string(rd_kafka_outq_len(handle_.get())) +
                      " message(s) still pending at the deadline");
  }
  return FromKafka(err, "kafka flush");
}

void KafkaProducer::Close(Clock::time_point deadline) {
  if (closed_.exchange(true)) return;
  if (!handle_) return;
  Status flushed = Flush(deadline);
  if (!flushed.ok()) {
    // Whatever did not make it: purge, so each gets its one (kClosed) report.
    rd_kafka_purge(handle_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_flush(handle_.get(), 1000);
  }
  stopping_.store(true, std::memory_order_release);
  rd_kafka_yield(handle_.get());
  poller_.Join();
  // Waits for a Produce that passed its check before closed_ was set; what
  // it queued gets its (kClosed) report here, on this thread.
  std::unique_lock<std::shared_mutex> use(use_mu_);
  if (rd_kafka_outq_len(handle_.get()) > 0) {
    rd_kafka_purge(handle_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_flush(handle_.get(), 1000);
  }
  destroyed_ = true;
  DestroyTopicHandles();  // every librdkafka object released before destroy
  handle_.Destroy();
}

}  // namespace evbus::transport::kafka
