// Handler and callback types of the EventBus.
//
// Thread safety: handlers run on the bus's worker threads, several at once
// (different keys in parallel); one key's messages never run concurrently
// under Ordering::kPerKey. Callbacks run on transport or worker threads, never
// while evbus holds an internal lock, so they may call back into the bus
// (except Close(), which returns kWouldDeadlock from a handler thread).

#ifndef EVBUS_HANDLER_H_
#define EVBUS_HANDLER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "evbus/config.h"
#include "evbus/envelope.h"
#include "evbus/export.h"
#include "evbus/record.h"
#include "evbus/status.h"
#include "evbus/trace_context.h"

namespace evbus {

// Set by Close() when its drain deadline passes: a long-running handler should
// return soon after cancelled() turns true. Its message is then neither
// committed nor dead-lettered, and will be delivered again.
class EVBUS_EXPORT CancelToken {
 public:
  CancelToken() = default;
  CancelToken(const CancelToken&) = delete;
  CancelToken& operator=(const CancelToken&) = delete;

  bool cancelled() const { return cancelled_.load(std::memory_order_acquire); }
  void Cancel();
  // Waits up to `timeout`, returning early (with true) once cancelled: an
  // interruptible replacement for sleeping inside a handler.
  bool WaitFor(std::chrono::nanoseconds timeout) const;

 private:
  std::atomic<bool> cancelled_{false};
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
};

// What a handler learns about the message besides its content.
struct Delivery {
  const Record& record;  // topic, key, headers, partition, offset, timestamp
  int attempt;           // 1 on first delivery to this handler, 2 on the first retry, ...
  const CancelToken& cancel;

  // The W3C trace context the publisher sent (traceparent and tracestate
  // headers), read from record.headers on each call; nullopt when there is
  // none or it is invalid. Every retry attempt sees the same one.
  std::optional<TraceContext> trace() const { return TraceContext::FromHeaders(record.headers); }
};

// What a handler's result does:
//   OK                 settles the message (committed with the frontier).
//   Permanent(...)     (kPermanent, or kPoison) dead-letters it at once: no retry.
//   kCancelled         leaves it unsettled, for redelivery (as does any failure
//                      once Close() has cancelled the handlers).
//   any other error,   a failed attempt: retried with backoff in its lane up to
//   or an exception    RetryPolicy::max_attempts, then dead-lettered.
// A handler still running at its handler timeout (subscriber.handler_timeout,
// SubscribeOptions::handler_timeout) has its CancelToken cancelled, and that
// attempt fails with kTimeout whatever the handler returns afterwards.
//
// Lifetimes: the Record, Envelope and Delivery passed to a handler live only
// until it returns; the bus reuses them for the next message. Copy what you
// keep (a std::string_view into them must not outlive the call).
using RecordHandler = std::function<Status(const Record&, const Delivery&)>;
using EnvelopeHandler = std::function<Status(const Envelope&, const Delivery&)>;

// Middleware (the model: Watermill's router middlewares). A message as a
// middleware sees it: `envelope` is the decoded envelope of a SubscribeEnvelope
// subscription and null for a raw Subscribe. Like the handler's arguments, it
// lives only until the call returns.
struct Message {
  const Record& record;
  const Envelope* envelope;  // null for raw subscriptions
  const Delivery& delivery;
};
// A handler as middleware sees it; its Status means what a handler's does
// (see above), so a middleware that returns OK without calling `next`
// settles the message, and one that returns Permanent dead-letters it.
using MessageHandler = std::function<Status(const Message&)>;
// Wraps `next` (the rest of the chain, ending in the subscription's handler)
// and returns the handler to call instead. Called once per subscription,
// when its chain is built, inside Start() (or Subscribe() on a running bus)
// while the bus holds its lock: it must only build the handler, never call
// the bus. The handler it returns runs on worker threads, with no lock held,
// several at once, so it must be thread-safe. Retries, dead-lettering,
// the handler timeout and the rate limit stay in the engine, outside the
// chain: each retry runs the whole chain again. Built-ins: evbus/middleware.h.
using Middleware = std::function<MessageHandler(MessageHandler next)>;

struct SubscribeOptions {
  // Default: Ordering::kPerKey for envelopes, subscriber.ordering for records.
  std::optional<Ordering> ordering;
  // Default: subscriber.retry.
  std::optional<RetryPolicy> retry;
  // Default: topic + subscriber.dead_letter_suffix.
  std::string dead_letter_topic;
  // Handler dispatch rate of this topic, messages per second (0 = unlimited).
  // Default: subscriber.rate_limit. A message over the rate waits in its
  // lane (no worker sleeps); other keys' lanes go on.
  std::optional<double> rate_limit;
  std::optional<int> rate_burst;  // default: subscriber.rate_burst
  // How long one handler call may run before its CancelToken is cancelled
  // and the attempt counts as failed (0 = no limit). Default:
  // subscriber.handler_timeout.
  std::optional<std::chrono::nanoseconds> handler_timeout;
  // How SubscribeEnvelope reads the payload (see PayloadFormat). Default:
  // subscriber.payload_format.
  std::optional<PayloadFormat> payload_format;
  // Middleware around this subscription's handler, outermost first; the
  // bus-wide ones (EventBus::Use) wrap outside these. Default: none (the
  // handler is called directly, at no extra cost).
  std::vector<Middleware> middleware;
};

// The outcome of one publish. Each accepted Publish/PublishEnvelope (one that
// returned OK) produces exactly one result — to its own callback and to the
// bus's result callback (EventBus::SetPublishResultCallback) — also when the
// bus closes first (then with kClosed). A publish that returned an error
// produces none.
struct PublishResult {
  std::string topic;
  std::string event_id;      // envelopes only
  std::string aggregate_id;  // envelopes only (the key of raw records)
  std::string event_type;    // envelopes only
  Status status;             // OK when the broker stored the record
  int32_t partition = -1;
  int64_t offset = -1;
  std::chrono::steady_clock::time_point published_at{};  // when Publish was called
  std::chrono::steady_clock::time_point completed_at{};
  std::chrono::system_clock::time_point timestamp{};  // wall clock at completion
};
using PublishCallback = std::function<void(const PublishResult&)>;

// Asynchronous problems that no call returns: a dead-letter publish that
// failed (its lane stays blocked and retries), records lost to retention, a
// transport that lost its connection, a partition lost in a rebalance.
using ErrorCallback = std::function<void(const Status&)>;

}  // namespace evbus

#endif  // EVBUS_HANDLER_H_
