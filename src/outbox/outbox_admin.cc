// ReadOutboxStatus and RetryDeadOutboxRows: what `evbus outbox status` and
// `evbus outbox retry` run, on a connection of their own.

#include "evbus/outbox.h"
#include "outbox/store.h"

namespace evbus {

Result<OutboxStatus> ReadOutboxStatus(std::string_view database_url) {
  Result<std::unique_ptr<outbox::Store>> store = outbox::OpenStore(database_url, {.create = false});
  if (!store.ok()) return store.status();
  return (*store)->ReadStatus(outbox::NowMicros());
}

Result<int64_t> RetryDeadOutboxRows(std::string_view database_url, std::optional<int64_t> id) {
  Result<std::unique_ptr<outbox::Store>> store = outbox::OpenStore(database_url, {.create = false});
  if (!store.ok()) return store.status();
  Result<int64_t> n = (*store)->RetryDead(id);
  if (n.ok() && id && *n == 0) {
    return NotFound("outbox row " + std::to_string(*id) + " is not dead (or does not exist)");
  }
  return n;
}

}  // namespace evbus
