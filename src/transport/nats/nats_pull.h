// Pull requests of many JetStream consumers, answered on one inbox.
//
// cnats 3.4's fetch (natsSubscription_FetchRequest) sends a request and waits
// for its answer on one partition's subscription, so a member reading many
// partitions could wait for new messages on one of them at a time, in slices
// of at least 20 ms: a message on a quiet partition waited for the round of
// fetches to reach it. Here every partition keeps a pull request open at the
// server, all of them answered on one inbox subscription, and the polling
// thread waits on that one: a message is handed over as it arrives, whatever
// its partition.
//
// A request is published to $JS.API.CONSUMER.MSG.NEXT.<stream>.<durable>
// with the reply subject <inbox>.<target>.<request>, where a target is one
// attachment of a partition's consumer. The server answers a request with up
// to `batch` deliveries, then, if it expired before that, a status message
// (408) to that subject, which ends it here; a request whose end never came
// (the connection dropped) stops counting at its expiry. Deliveries carry
// their stream's subject, not the reply subject: the caller tells them
// apart by their consumer (the ack subject) and counts each against its
// target (Delivered). Everything comes in the order the server sent it, on
// one connection, so Mark tells what was queued before a point in time.
//
// Memory: what arrives is bounded by what was asked for, and the server
// delivers no more than a consumer's MaxAckPending unacknowledged messages.
//
// Thread safety: none; the consumer's polling thread, under its lock.

#ifndef EVBUS_TRANSPORT_NATS_NATS_PULL_H_
#define EVBUS_TRANSPORT_NATS_NATS_PULL_H_

#include <nats/nats.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include "transport/nats/nats_session.h"
#include "transport/transport.h"

namespace evbus::transport::nats {

class PullInbox {
 public:
  explicit PullInbox(NatsSession& session) : session_(session) {}
  ~PullInbox() { Close(); }
  PullInbox(const PullInbox&) = delete;
  PullInbox& operator=(const PullInbox&) = delete;

  // Subscribes to the inbox, unless subscribed (cnats restores the
  // subscription after a reconnect). Errors: Unavailable.
  Status Open();
  // Unsubscribes; what was not taken is dropped (it is redelivered).
  void Close();

  // A new target, for one attachment of a partition's consumer.
  uint32_t NewTarget() { return ++last_target_; }
  // The target's requests no longer count (its attachment is gone).
  void Forget(uint32_t target);

  // Asks the consumer `durable` of `stream` for up to `batch` messages for
  // `target`; the request stays open at the server for `expires`.
  Status Request(uint32_t target, const std::string& stream, const std::string& durable,
                 int64_t batch, std::chrono::milliseconds expires);
  // Messages asked for by the target's requests and not received, counting
  // only requests that stay open for more than `margin` from now (a request
  // about to expire is replaced before it does, so nothing waits for the
  // next one).
  int64_t Outstanding(uint32_t target, std::chrono::milliseconds margin);

  // Counts a delivery against the target's oldest open request.
  void Delivered(uint32_t target);

  struct Answer {
    natsMsg* msg = nullptr;  // a delivery (the caller's to destroy), or null
    uint64_t position = 0;   // of the delivery, in everything the inbox received
    uint32_t gone = 0;       // not 0: the server says this target's consumer is gone
  };
  // The next answer, waiting up to `wait` (0: only what has arrived).
  // Answers that only end a request are taken in passing and not returned.
  // False when nothing came in time.
  bool Next(Answer& answer, std::chrono::milliseconds wait);
  // The position of the last answer received so far (taken or queued): what
  // the server sent before now has a position up to this.
  uint64_t Mark() const;

 private:
  struct OpenRequest {
    uint32_t target;
    int64_t remaining;
    Clock::time_point expires_at;
  };
  // Drops requests past their expiry (their end did not come).
  void Expire(Clock::time_point now);

  NatsSession& session_;
  natsSubscription* sub_ = nullptr;
  std::string prefix_;  // the inbox subject, without the two tokens
  uint32_t last_target_ = 0;
  uint64_t last_request_ = 0;
  uint64_t taken_ = 0;                    // answers taken from the subscription
  std::map<uint64_t, OpenRequest> open_;  // by request id: oldest first
};

}  // namespace evbus::transport::nats

#endif  // EVBUS_TRANSPORT_NATS_NATS_PULL_H_
