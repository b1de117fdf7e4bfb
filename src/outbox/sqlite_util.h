// Small RAII helpers over libsqlite3: a statement that finalizes itself and
// binds "$N" parameters by name, and the error text of a failed call.

#ifndef EVBUS_OUTBOX_SQLITE_UTIL_H_
#define EVBUS_OUTBOX_SQLITE_UTIL_H_

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "evbus/status.h"

namespace evbus::outbox {

// Unavailable, naming what failed and SQLite's message (a missing evbus
// table becomes FailedPrecondition, pointing at Outbox::Migrate).
Status SqliteError(sqlite3* db, std::string_view what);

class SqliteStatement {
 public:
  SqliteStatement() = default;
  ~SqliteStatement() { sqlite3_finalize(stmt_); }
  SqliteStatement(SqliteStatement&& o) noexcept : stmt_(o.stmt_) { o.stmt_ = nullptr; }
  SqliteStatement& operator=(SqliteStatement&& o) noexcept {
    std::swap(stmt_, o.stmt_);
    return *this;
  }

  Status Prepare(sqlite3* db, std::string_view sql);
  bool prepared() const { return stmt_ != nullptr; }
  // Resets for another run and clears the bindings.
  void Reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  // Binds parameter "$n" (text and blobs are copied).
  void Bind(int n, int64_t v) { sqlite3_bind_int64(stmt_, Index(n), v); }
  void BindText(int n, std::string_view v);
  void BindBlob(int n, std::string_view v);
  void BindNull(int n) { sqlite3_bind_null(stmt_, Index(n)); }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int Step() { return sqlite3_step(stmt_); }
  int64_t Int(int column) const { return sqlite3_column_int64(stmt_, column); }
  bool IsNull(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }
  std::string_view Text(int column) const;

 private:
  int Index(int n) const;
  sqlite3_stmt* stmt_ = nullptr;
};

// Runs `sql` (one or more statements, no parameters).
Status SqliteExec(sqlite3* db, std::string_view sql);

}  // namespace evbus::outbox

#endif  // EVBUS_OUTBOX_SQLITE_UTIL_H_
