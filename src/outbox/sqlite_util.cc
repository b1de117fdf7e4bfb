#include "outbox/sqlite_util.h"

#include <cstdio>
#include <string>

namespace evbus::outbox {

Status SqliteError(sqlite3* db, std::string_view what) {
  const std::string message = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
  if (message.starts_with("no such table: evbus_")) {
    return FailedPrecondition(std::string(what) + ": " + message +
                              " (call Outbox::Migrate, or run `evbus outbox migrate`)");
  }
  return {ErrorCode::kUnavailable, "sqlite: " + std::string(what) + ": " + message};
}

Status SqliteStatement::Prepare(sqlite3* db, std::string_view sql) {
  sqlite3_finalize(stmt_);
  stmt_ = nullptr;
  if (sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr) !=
      SQLITE_OK) {
    return SqliteError(db, "prepare");
  }
  return Status::Ok();
}

int SqliteStatement::Index(int n) const {
  char name[16];
  std::snprintf(name, sizeof name, "$%d", n);
  return sqlite3_bind_parameter_index(stmt_, name);
}

void SqliteStatement::BindText(int n, std::string_view v) {
  sqlite3_bind_text(stmt_, Index(n), v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}

void SqliteStatement::BindBlob(int n, std::string_view v) {
  sqlite3_bind_blob(stmt_, Index(n), v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}

std::string_view SqliteStatement::Text(int column) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_blob(stmt_, column));
  return {p == nullptr ? "" : p, static_cast<size_t>(sqlite3_column_bytes(stmt_, column))};
}

Status SqliteExec(sqlite3* db, std::string_view sql) {
  const std::string text(sql);
  if (sqlite3_exec(db, text.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
    return SqliteError(db, text.substr(0, text.find(' ', 9)));
  }
  return Status::Ok();
}

}  // namespace evbus::outbox
