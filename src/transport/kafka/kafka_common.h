// Shared pieces of the Kafka transport: RAII handles over librdkafka, the
// one function that builds client settings (first connect and every handle
// after it use it, so nothing falls back to bare defaults), thread census
// registration through librdkafka's thread interceptors, and error mapping.

#ifndef EVBUS_TRANSPORT_KAFKA_KAFKA_COMMON_H_
#define EVBUS_TRANSPORT_KAFKA_KAFKA_COMMON_H_

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "evbus/config.h"
#include "evbus/status.h"
#include "transport/transport.h"

namespace evbus::transport::kafka {

struct ConfDeleter {
  void operator()(rd_kafka_conf_t* c) const { rd_kafka_conf_destroy(c); }
};
struct ListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
};
struct QueueDeleter {
  void operator()(rd_kafka_queue_t* q) const { rd_kafka_queue_destroy(q); }
};
struct EventDeleter {
  void operator()(rd_kafka_event_t* e) const { rd_kafka_event_destroy(e); }
};
struct MessageDeleter {
  void operator()(rd_kafka_message_t* m) const { rd_kafka_message_destroy(m); }
};
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;
using ListPtr = std::unique_ptr<rd_kafka_topic_partition_list_t, ListDeleter>;
using QueuePtr = std::unique_ptr<rd_kafka_queue_t, QueueDeleter>;
using EventPtr = std::unique_ptr<rd_kafka_event_t, EventDeleter>;
using MessagePtr = std::unique_ptr<rd_kafka_message_t, MessageDeleter>;

// Registers every thread librdkafka starts for one handle in the census
// (component "librdkafka") and, after the handle is destroyed, waits until
// the kernel has removed them, so T1 holds right after close.
class ThreadTracker {
 public:
  explicit ThreadTracker(uint64_t bus_id) : bus_id_(bus_id) {}
  // Adds the interceptors to `conf`. REQUIRES: this outlives the handle.
  void Attach(rd_kafka_conf_t* conf);
  // Call after rd_kafka_destroy() returned.
  void WaitForExit();

  void Started();  // on the new thread
  void Exiting();  // on the exiting thread

 private:
  const uint64_t bus_id_;
  std::mutex mu_;
  std::vector<int> tids_;
};

// Asserts a topic under topic_strategy (creating it under create_if_missing,
// create_or_update): the transport's EnsureTopic, for the producer.
using EnsureTopicFn = std::function<Status(const std::string& topic)>;

// Shared by a transport's handles: the user's error sink and connection state.
struct KafkaShared {
  ErrorSink sink;
  ConnectionSink connection_sink;
  std::atomic<bool> connected{true};
  void Report(const Status& s) {
    if (sink) sink(s);
  }
  // Records the connection state; the sink hears only changes. After a
  // fatal error the client stays down.
  void SetConnected(bool up, const Status& reason) {
    if (up && has_fatal.load(std::memory_order_acquire)) return;
    if (connected.exchange(up) != up && connection_sink) connection_sink(up, reason);
  }
  // Per delivered or consumed message: a load, no store, unless it was down.
  void MarkConnected() {
    if (!connected.load(std::memory_order_relaxed)) SetConnected(true, Status());
  }
  // A fatal librdkafka error (e.g. a fenced idempotent producer or static
  // consumer) ends the client: the first cause is kept, and from then on
  // every produce fails with it and the transport reports disconnected.
  void SetFatal(const Status& s) {
    {
      std::lock_guard<std::mutex> lock(fatal_mu);
      if (!fatal.ok()) return;
      fatal = s;
    }
    has_fatal.store(true, std::memory_order_release);
    SetConnected(false, s);
    Report(s);
  }
  Status Fatal() {
    if (!has_fatal.load(std::memory_order_acquire)) return Status();
    std::lock_guard<std::mutex> lock(fatal_mu);
    return fatal;
  }
  std::atomic<bool> has_fatal{false};
  std::mutex fatal_mu;
  Status fatal;
};

// The opaque of every handle: the shared state plus the object that owns the
// handle (the consumer, for its rebalance callback).
struct HandleContext {
  KafkaShared* shared = nullptr;
  void* owner = nullptr;
  // Set when librdkafka reports every broker of this handle down; cleared by
  // the handle's owner when it hears from a broker again.
  std::atomic<bool> all_brokers_down{false};
};

enum class Role { kProducer, kConsumer, kAdmin };

// Builds the settings of one librdkafka handle from `config`: brokers,
// client id, security, the role's settings, then kafka.properties. Installs
// the error callback (opaque = `context`) and the thread interceptors.
// Errors: InvalidArgument naming a property librdkafka rejects.
Result<ConfPtr> BuildConf(const Config& config, Role role, HandleContext* context,
                          ThreadTracker* threads);

// The fatal error `rk` is in (FailedPrecondition naming the cause), or OK.
Status FatalError(rd_kafka_t* rk);

// A handle that is destroyed (and whose threads are waited for) on reset.
class Handle {
 public:
  Handle() = default;
  Handle(rd_kafka_t* rk, std::unique_ptr<ThreadTracker> threads,
         std::unique_ptr<HandleContext> context)
      : rk_(rk), threads_(std::move(threads)), context_(std::move(context)) {}
  Handle(Handle&& other) noexcept
      : rk_(std::exchange(other.rk_, nullptr)),
        threads_(std::move(other.threads_)),
        context_(std::move(other.context_)) {}
  Handle& operator=(Handle&& other) noexcept {
    if (this != &other) {
      Destroy();
      rk_ = std::exchange(other.rk_, nullptr);
      threads_ = std::move(other.threads_);
      context_ = std::move(other.context_);
    }
    return *this;
  }
  ~Handle() { Destroy(); }
  rd_kafka_t* get() const { return rk_; }
  HandleContext* context() const { return context_.get(); }
  explicit operator bool() const { return rk_ != nullptr; }
  // Destroys the handle (flags as rd_kafka_destroy_flags) and joins its threads.
  void Destroy(int flags = 0);

 private:
  rd_kafka_t* rk_ = nullptr;
  std::unique_ptr<ThreadTracker> threads_;
  std::unique_ptr<HandleContext> context_;  // the handle's opaque; outlives it
};

// Creates a handle of `type` for `role`. Errors: those of BuildConf, and
// InvalidArgument / Unavailable from rd_kafka_new.
// `owner` is reachable from callbacks as HandleContext::owner.
Result<Handle> NewHandle(const Config& config, Role role, KafkaShared* shared, uint64_t bus_id,
                         void* owner = nullptr,
                         const std::function<Status(rd_kafka_conf_t*)>& customize = nullptr);

// Maps a librdkafka error to an evbus Status with `context` in front.
Status FromKafka(rd_kafka_resp_err_t err, const std::string& context);

// Overwrites every field of `r` with the consumed message `msg` (not an
// error event). `r` may be a reused record: its strings keep their capacity.
void FillRecord(const rd_kafka_message_t& msg, Record& r);

}  // namespace evbus::transport::kafka

#endif  // EVBUS_TRANSPORT_KAFKA_KAFKA_COMMON_H_
