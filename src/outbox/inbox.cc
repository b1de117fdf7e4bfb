// Inbox: each wrapped handler call borrows a connection from a small pool,
// records the event's key and runs the handler in one transaction.

#include "evbus/inbox.h"

#include <atomic>
#include <exception>
#include <mutex>
#include <string>
#include <vector>

#include "outbox/store.h"

namespace evbus {

class Inbox::Impl {
 public:
  explicit Impl(InboxOptions options) : options_(std::move(options)) {}

  // A connection of the pool, or a new one. Opening happens outside the
  // lock; the pool never holds more than the handlers that ran at once.
  Result<std::unique_ptr<outbox::Store>> Acquire() {
    {
      std::lock_guard lock(mu_);
      if (!idle_.empty()) {
        std::unique_ptr<outbox::Store> store = std::move(idle_.back());
        idle_.pop_back();
        return store;
      }
    }
    return outbox::OpenStore(options_.database,
                             {.busy_timeout_ms = static_cast<int>(options_.busy_timeout.count())});
  }

  void Release(std::unique_ptr<outbox::Store> store) {
    if (!store->healthy()) return;  // a broken connection is dropped, not reused
    std::lock_guard lock(mu_);
    idle_.push_back(std::move(store));
  }

  Status Handle(const InboxHandler& handler, const Envelope& envelope, const Delivery& delivery) {
    Result<std::unique_ptr<outbox::Store>> acquired = Acquire();
    if (!acquired.ok()) return acquired.status();
    std::unique_ptr<outbox::Store> store = std::move(*acquired);
    const int64_t now = outbox::NowMicros();
    Result<bool> fresh = store->BeginInbox(options_.consumer_group, Inbox::KeyOf(envelope), now);
    if (!fresh.ok()) {
      failed_.fetch_add(1, std::memory_order_relaxed);
      Release(std::move(store));
      return fresh.status();
    }
    if (!*fresh) {
      duplicates_.fetch_add(1, std::memory_order_relaxed);
      Release(std::move(store));
      return Status::Ok();
    }
    Transaction tx = store->transaction();
    Status s;
    try {
      s = handler(envelope, delivery, tx);
    } catch (...) {
      store->Rollback();
      failed_.fetch_add(1, std::memory_order_relaxed);
      Release(std::move(store));
      throw;  // the bus counts it as a failed attempt, as for any handler
    }
    if (s.ok()) s = store->Commit();
    if (!s.ok()) {
      store->Rollback();
      failed_.fetch_add(1, std::memory_order_relaxed);
    } else {
      handled_.fetch_add(1, std::memory_order_relaxed);
    }
    MaybePurge(*store, now);
    Release(std::move(store));
    return s;
  }

  InboxStats stats() const {
    return {handled_.load(std::memory_order_relaxed), duplicates_.load(std::memory_order_relaxed),
            failed_.load(std::memory_order_relaxed), purged_.load(std::memory_order_relaxed)};
  }

 private:
  // At most once per tenth of the retention (and at least hourly), one
  // handler call also deletes the expired keys, after its own commit.
  void MaybePurge(outbox::Store& store, int64_t now) {
    const int64_t retention_us = options_.retention.count() * 1'000'000;
    const int64_t every = std::min<int64_t>(std::max<int64_t>(retention_us / 10, 1'000'000),
                                            int64_t{3600} * 1'000'000);
    int64_t due = next_purge_us_.load(std::memory_order_relaxed);
    if (now < due || !next_purge_us_.compare_exchange_strong(due, now + every)) return;
    if (Result<int64_t> n = store.PurgeInbox(now - retention_us); n.ok()) {
      purged_.fetch_add(static_cast<uint64_t>(*n), std::memory_order_relaxed);
    }
  }

  const InboxOptions options_;
  std::mutex mu_;
  std::vector<std::unique_ptr<outbox::Store>> idle_;
  std::atomic<int64_t> next_purge_us_{0};
  std::atomic<uint64_t> handled_{0}, duplicates_{0}, failed_{0}, purged_{0};
};

Result<std::unique_ptr<Inbox>> Inbox::Open(InboxOptions options) {
  if (options.database.empty()) return InvalidArgument("InboxOptions.database: empty");
  if (options.consumer_group.empty()) return InvalidArgument("InboxOptions.consumer_group: empty");
  if (options.retention.count() <= 0) {
    return InvalidArgument("InboxOptions.retention: must be > 0, got " +
                           std::to_string(options.retention.count()) + " s");
  }
  auto impl = std::make_shared<Impl>(options);
  Result<std::unique_ptr<outbox::Store>> store = impl->Acquire();
  if (!store.ok()) return store.status();
  if (Status s = (*store)->Migrate(); !s.ok()) return s;
  impl->Release(std::move(*store));
  return std::unique_ptr<Inbox>(new Inbox(std::move(impl)));
}

Inbox::Inbox(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
Inbox::~Inbox() = default;

EnvelopeHandler Inbox::Wrap(InboxHandler handler) {
  return [impl = impl_, handler = std::move(handler)](const Envelope& e, const Delivery& d) {
    return impl->Handle(handler, e, d);
  };
}

InboxStats Inbox::stats() const { return impl_->stats(); }

std::string Inbox::KeyOf(const Envelope& envelope) {
  if (!envelope.event_id.empty()) return envelope.event_id;
  return "~" + envelope.aggregate_id + "/" + std::to_string(envelope.event_version) + "/" +
         envelope.event_type + "/" + FormatRfc3339(envelope.timestamp);
}

}  // namespace evbus
