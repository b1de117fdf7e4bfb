// Publishing options: per-publish headers, partition and timeout; Sync
// publishes that wait for the acknowledgement; batches; publish interceptors.
// The plain publish path is in event_bus.cc.

#include <condition_variable>
#include <mutex>

#include "config/config_fields.h"
#include "core/completion_thread.h"
#include "core/event_bus_impl.h"

namespace evbus {

// ---------------------------------------------------------------- facade

Result<PublishResult> EventBus::PublishSync(Record record, const PublishOptions& options) {
  const std::string topic = record.topic;
  return impl_->PublishSync(
      [&](PublishCallback done) { return Publish(std::move(record), std::move(done), options); },
      topic, options);
}

Result<PublishResult> EventBus::PublishEnvelopeSync(std::string_view topic,
                                                    const Envelope& envelope,
                                                    const PublishOptions& options) {
  return impl_->PublishSync(
      [&](PublishCallback done) {
        return impl_->PublishEnvelope(topic, envelope, std::move(done), options);
      },
      topic, options);
}

Status EventBus::PublishBatch(std::string_view topic, std::span<const Envelope> envelopes,
                              BatchCallback done, const PublishOptions& options) {
  return impl_->PublishBatch(topic, envelopes, std::move(done), options);
}

Status EventBus::AddPublishInterceptor(PublishInterceptor interceptor) {
  return impl_->AddPublishInterceptor(std::move(interceptor));
}

// ---------------------------------------------------------------- Impl

Status EventBus::Impl::ApplyPublishOptions(const PublishOptions& options, Record& record) {
  if (options.partition && *options.partition < 0) {
    return InvalidArgument("publish to " + record.topic + ": partition " +
                           std::to_string(*options.partition) + " is negative");
  }
  if (options.timeout && options.timeout->count() < 0) {
    return InvalidArgument("publish to " + record.topic + ": timeout " +
                           config_internal::FormatDuration(*options.timeout) + " is negative");
  }
  record.headers.insert(record.headers.end(), options.headers.begin(), options.headers.end());
  record.partition = options.partition.value_or(-1);
  return Status();
}

Result<PublishResult> EventBus::Impl::PublishSync(
    const std::function<Status(PublishCallback)>& publish, std::string_view topic,
    const PublishOptions& options) {
  if (core::OnCompletionThread()) {
    return Status(ErrorCode::kWouldDeadlock,
                  "synchronous publish to " + std::string(topic) +
                      " on a thread that delivers publish completions (inside a "
                      "PublishCallback, the result callback, or the transport's delivery "
                      "thread): it would wait for itself; publish asynchronously here");
  }
  const Duration timeout = options.timeout.value_or(config_.publisher.timeout);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  struct Waiter {
    std::mutex mu;
    std::condition_variable cv;
    std::optional<PublishResult> result;
  };
  // Shared with the callback, which may run after a Timeout return.
  auto waiter = std::make_shared<Waiter>();
  Status s = publish([waiter](const PublishResult& r) {
    {
      std::lock_guard<std::mutex> lock(waiter->mu);
      waiter->result = r;
    }
    waiter->cv.notify_all();
  });
  if (!s.ok()) return s;
  std::unique_lock<std::mutex> lock(waiter->mu);
  if (!waiter->cv.wait_until(lock, deadline, [&] { return waiter->result.has_value(); })) {
    return Status(ErrorCode::kTimeout,
                  "publish to " + std::string(topic) + ": no acknowledgement within " +
                      config_internal::FormatDuration(timeout) +
                      (options.timeout ? " (PublishOptions::timeout)" : " (publisher.timeout)") +
                      "; the record may still be stored: its result goes to the result "
                      "callback when it comes");
  }
  if (!waiter->result->status.ok()) return waiter->result->status;
  return std::move(*waiter->result);
}

Status EventBus::Impl::PublishBatch(std::string_view topic, std::span<const Envelope> envelopes,
                                    BatchCallback done, const PublishOptions& options) {
  // One copy of the callback for the whole batch, shared by the completions.
  std::shared_ptr<const BatchCallback> shared =
      done ? std::make_shared<const BatchCallback>(std::move(done)) : nullptr;
  Status refused;
  size_t refused_at = 0;
  for (size_t i = 0; i < envelopes.size(); ++i) {
    const Envelope& e = envelopes[i];
    Status s;
    if (refused.ok()) {
      PublishCallback cb;
      if (shared) cb = [shared, i](const PublishResult& r) { (*shared)(i, r); };
      s = PublishEnvelope(topic, e, std::move(cb), options);
      if (s.ok()) continue;
      refused = s;
      refused_at = i;
    } else {
      s = Status(refused.code(), "not published: envelope " + std::to_string(refused_at) +
                                     " of the batch was refused before it (" + refused.ToString() +
                                     ")");
    }
    if (!shared) continue;
    // Not accepted: no completion will come, so its one result is given here.
    PublishResult r;
    r.topic = topic;
    r.event_id = e.event_id;
    r.aggregate_id = e.aggregate_id;
    r.event_type = e.event_type;
    r.status = std::move(s);
    r.published_at = r.completed_at = std::chrono::steady_clock::now();
    r.timestamp = std::chrono::system_clock::now();
    const core::CompletionScope scope;
    (*shared)(i, r);
  }
  if (refused.ok()) return Status();
  return Status(refused.code(), "publish batch to " + std::string(topic) + ": envelope " +
                                    std::to_string(refused_at) + " of " +
                                    std::to_string(envelopes.size()) + " (event id " +
                                    envelopes[refused_at].event_id + ") refused, " +
                                    std::to_string(envelopes.size() - refused_at - 1) +
                                    " after it not published: " + refused.message());
}

Status EventBus::Impl::AddPublishInterceptor(PublishInterceptor interceptor) {
  if (!interceptor) return InvalidArgument("AddPublishInterceptor: the interceptor is null");
  std::lock_guard<std::mutex> lock(mu_);
  if (Status s = CheckCallbackSetLocked("a publish interceptor", true); !s.ok()) return s;
  publish_interceptors_.push_back(std::move(interceptor));
  return Status();
}

}  // namespace evbus
