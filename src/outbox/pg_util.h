// Small helpers over libpq: a result that clears itself, statements with
// text (or binary) parameters, and the error text of a failed call.

#ifndef EVBUS_OUTBOX_PG_UTIL_H_
#define EVBUS_OUTBOX_PG_UTIL_H_

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "evbus/status.h"

namespace evbus::outbox {

struct PgResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, PgResultDeleter>;

// One parameter: text, binary (bytea), or NULL.
struct PgParam {
  std::string value;
  bool binary = false;
  bool null = false;
  static PgParam Int(int64_t v) { return {std::to_string(v)}; }
  static PgParam Text(std::string_view v) { return {std::string(v)}; }
  static PgParam Bytes(std::string_view v) { return {std::string(v), true}; }
};

// Runs `sql` with `params`; `binary_results` asks for every column in binary.
// Errors: the statement's failure (PgError), as Status.
Result<PgResult> PgExec(PGconn* conn, std::string_view sql, const std::vector<PgParam>& params = {},
                        bool binary_results = false);

// Runs `sql`, which may hold several statements (no parameters).
Status PgExecScript(PGconn* conn, std::string_view sql);

// Unavailable naming `what` and the server's message; a missing evbus table
// (SQLSTATE 42P01) becomes FailedPrecondition pointing at Outbox::Migrate.
Status PgError(PGconn* conn, const PGresult* result, std::string_view what);

// Big-endian integers of a binary result column.
int64_t PgInt64(const PGresult* r, int row, int column);
int32_t PgInt32(const PGresult* r, int row, int column);
std::string_view PgBytes(const PGresult* r, int row, int column);

}  // namespace evbus::outbox

#endif  // EVBUS_OUTBOX_PG_UTIL_H_
