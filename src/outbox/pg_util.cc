#include "outbox/pg_util.h"

#include <endian.h>

#include <cstring>

namespace evbus::outbox {

Status PgError(PGconn* conn, const PGresult* result, std::string_view what) {
  std::string message = result != nullptr ? PQresultErrorMessage(result) : PQerrorMessage(conn);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  if (state != nullptr && std::strcmp(state, "42P01") == 0 &&
      message.find("evbus_") != message.npos) {
    return FailedPrecondition(std::string(what) + ": " + message +
                              " (call Outbox::Migrate, or run `evbus outbox migrate`)");
  }
  return {ErrorCode::kUnavailable, "postgresql: " + std::string(what) + ": " + message};
}

Result<PgResult> PgExec(PGconn* conn, std::string_view sql, const std::vector<PgParam>& params,
                        bool binary_results) {
  std::vector<const char*> values(params.size());
  std::vector<int> lengths(params.size()), formats(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    values[i] = params[i].null ? nullptr : params[i].value.data();
    lengths[i] = static_cast<int>(params[i].value.size());
    formats[i] = params[i].binary ? 1 : 0;
  }
  const std::string text(sql);
  PgResult r(PQexecParams(conn, text.c_str(), static_cast<int>(params.size()), nullptr,
                          values.data(), lengths.data(), formats.data(), binary_results ? 1 : 0));
  const ExecStatusType st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    return PgError(conn, r.get(), text.substr(0, text.find(' ', 12)));
  }
  return r;
}

Status PgExecScript(PGconn* conn, std::string_view sql) {
  const std::string text(sql);
  PgResult r(PQexec(conn, text.c_str()));
  const ExecStatusType st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    return PgError(conn, r.get(), text.substr(0, text.find(' ', 12)));
  }
  return Status::Ok();
}

int64_t PgInt64(const PGresult* r, int row, int column) {
  uint64_t v;
  std::memcpy(&v, PQgetvalue(r, row, column), sizeof v);
  return static_cast<int64_t>(be64toh(v));
}

int32_t PgInt32(const PGresult* r, int row, int column) {
  uint32_t v;
  std::memcpy(&v, PQgetvalue(r, row, column), sizeof v);
  return static_cast<int32_t>(be32toh(v));
}

std::string_view PgBytes(const PGresult* r, int row, int column) {
  return {PQgetvalue(r, row, column), static_cast<size_t>(PQgetlength(r, row, column))};
}

}  // namespace evbus::outbox
