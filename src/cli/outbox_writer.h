// OutboxWriter: an application's own connection to an outbox database, as a
// service holds one: transactions that insert rows with Outbox::Add. `evbus
// bench outbox` writes through it, on a thread of its own, while a relay
// publishes; it also removes what the bench leaves behind.
//
// SQLite: the file is put in WAL mode (persistent in the file), so the
// relay's reads do not wait for the writer's transactions, and the writer
// waits up to 10 s for the relay's write lock instead of failing at once.
//
// Thread safety: one thread at a time (SQLite and libpq connections are).

#ifndef EVBUS_CLI_OUTBOX_WRITER_H_
#define EVBUS_CLI_OUTBOX_WRITER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "evbus/database.h"
#include "evbus/envelope.h"
#include "evbus/status.h"

namespace evbus::cli {

class OutboxWriter {
 public:
  // Connects to `url` (sqlite:PATH or postgresql://...).
  // Errors: InvalidArgument (the URL), Unavailable (the database).
  static Result<std::unique_ptr<OutboxWriter>> Open(std::string_view url);
  ~OutboxWriter();
  OutboxWriter(const OutboxWriter&) = delete;
  OutboxWriter& operator=(const OutboxWriter&) = delete;

  Status Begin();
  // Outbox::Add on this connection, inside the transaction Begin() opened.
  Status Add(std::string_view topic, const Envelope& envelope);
  Status Commit();
  void Rollback();

  // Runs `sql`, which takes no parameters; returns the rows it changed.
  Result<int64_t> Exec(const std::string& sql);
  // Runs `sql`, a query of one integer (e.g. a count).
  Result<int64_t> QueryInt(const std::string& sql);

  bool postgres() const { return postgres_ != nullptr; }

 private:
  OutboxWriter(sqlite3* sqlite, pg_conn* postgres) : sqlite_(sqlite), postgres_(postgres) {}
  Status Error(std::string_view what) const;

  sqlite3* sqlite_ = nullptr;
  pg_conn* postgres_ = nullptr;
};

// `url` with any password replaced by "***", for messages and logs:
// postgresql://user:secret@host/db and ...?password=secret.
std::string RedactDatabaseUrl(std::string_view url);

}  // namespace evbus::cli

#endif  // EVBUS_CLI_OUTBOX_WRITER_H_
