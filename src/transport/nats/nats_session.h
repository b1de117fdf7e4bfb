// NatsSession: one bus's connection to NATS and its JetStream context.
//
// The connection is made lazily, on the first call that needs the server, so
// a bus starts no thread before Start() or its first publish. It lives while
// pinned: the transport's producer and consumer each hold a pin until their
// Close, and one-off calls (EnsureTopic, DescribeTopic) pin for their
// duration. The last Unpin destroys the context and the connection and
// releases the cnats runtime (the last release in the process waits for every
// cnats thread), so a bus's Close, which closes its producer last, leaves no
// cnats thread of this bus running.
//
// Thread safety: all methods are thread-safe. connection() and js() stay
// valid while the caller holds a pin.

#ifndef EVBUS_TRANSPORT_NATS_NATS_SESSION_H_
#define EVBUS_TRANSPORT_NATS_NATS_SESSION_H_

#include <nats/nats.h>

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "evbus/config.h"
#include "transport/nats/nats_runtime.h"
#include "transport/transport.h"

namespace evbus::transport::nats {

// Builds the cnats options from config.nats (servers, name, auth, TLS,
// reconnect); used for the first connect and, by cnats, for every reconnect.
// `events` receives the connection callbacks (may be null).
struct ConnEvents;
Result<natsOptions*> BuildOptions(const NatsConfig& config, ConnEvents* events);

class NatsSession {
 public:
  NatsSession(const Config& config, uint64_t bus_id);
  ~NatsSession();
  NatsSession(const NatsSession&) = delete;
  NatsSession& operator=(const NatsSession&) = delete;

  void SetErrorSink(ErrorSink sink);
  // Told of disconnects (false, why) and reconnects (true); the error sink
  // gets both as Unavailable statuses too.
  void SetConnectionSink(ConnectionSink sink);
  void Pin();
  void Unpin();

  // Connects unless connected. REQUIRES: pinned. Errors: Unavailable.
  Status Connect();
  natsConnection* connection();
  jsCtx* js();
  bool connected() const;

  // Runs `fn`, attributing threads it starts to this bus (see nats_runtime.h).
  void Attributed(const std::function<void()>& fn);
  // Keeps `p` (a closure handed to cnats) alive until the connection and its
  // threads are gone.
  void KeepUntilClosed(std::shared_ptr<void> p);
  // Ends a subscription (null is ignored): unsubscribes it at once and
  // destroys it later. cnats 3.4's reader frees a subscription that another
  // thread destroys while the reader hands it a message (nats.c #637, fixed
  // in 3.5), so a retired one is destroyed only once a flush, answered
  // through that same reader, shows it has moved past every message it held,
  // or with the connection. While the server answers flushes, a few at most
  // wait (kRetiredBeforeFlush).
  void Retire(natsSubscription* sub);

  const Config& config() const { return config_; }
  uint64_t bus_id() const { return bus_id_; }

 private:
  void Teardown(std::unique_lock<std::mutex>& lock);
  static void DestroyAll(std::vector<natsSubscription*>& subs);

  const Config config_;
  const uint64_t bus_id_;
  std::mutex connect_mu_;  // one Connect at a time
  mutable std::mutex mu_;
  int pins_ = 0;
  ErrorSink sink_;
  ConnectionSink connection_sink_;
  natsConnection* nc_ = nullptr;
  jsCtx* js_ = nullptr;
  std::shared_ptr<ConnEvents> events_;
  std::vector<std::shared_ptr<void>> keep_;
  std::vector<natsSubscription*> retired_;  // unsubscribed, not yet destroyed
  std::shared_ptr<core::ThreadClaims> threads_ = NewCnatsClaims();
};

// A pin for the duration of a scope.
class SessionPin {
 public:
  explicit SessionPin(NatsSession& s) : s_(s) { s_.Pin(); }
  ~SessionPin() { s_.Unpin(); }
  SessionPin(const SessionPin&) = delete;
  SessionPin& operator=(const SessionPin&) = delete;

 private:
  NatsSession& s_;
};

}  // namespace evbus::transport::nats

#endif  // EVBUS_TRANSPORT_NATS_NATS_SESSION_H_
