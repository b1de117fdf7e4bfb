// Outbox::Migrate and Outbox::Add: on the caller's connection, inside the
// caller's transaction.

#include <libpq-fe.h>
#include <sqlite3.h>

#include <string>

#include "evbus/outbox.h"
#include "outbox/pg_util.h"
#include "outbox/schema.h"
#include "outbox/sqlite_util.h"
#include "outbox/store.h"

namespace evbus {
namespace {

// The checks and encoding both databases share.
Result<std::string> EncodeRow(std::string_view topic, const Envelope& envelope,
                              PayloadFormat format) {
  if (topic.empty()) return InvalidArgument("Outbox::Add: topic: empty");
  if (format == PayloadFormat::kAuto) format = PayloadFormat::kRawJson;
  std::string encoded;
  if (Status s = EncodeEnvelope(envelope, encoded, format); !s.ok()) {
    return InvalidArgument("Outbox::Add: " + s.message());
  }
  return encoded;
}

}  // namespace

Status Outbox::Migrate(sqlite3* db) {
  if (db == nullptr) return InvalidArgument("Outbox::Migrate: null connection");
  return outbox::BorrowSqlite(db)->Migrate();
}

Status Outbox::Migrate(pg_conn* db) {
  if (db == nullptr) return InvalidArgument("Outbox::Migrate: null connection");
  return outbox::BorrowPostgres(db)->Migrate();
}

Status Outbox::Migrate(std::string_view database_url) {
  Result<std::unique_ptr<outbox::Store>> store = outbox::OpenStore(database_url);
  if (!store.ok()) return store.status();
  return (*store)->Migrate();
}

Status Outbox::Add(sqlite3* db, std::string_view topic, const Envelope& envelope,
                   PayloadFormat format) {
  if (db == nullptr) return InvalidArgument("Outbox::Add: null connection");
  if (sqlite3_get_autocommit(db) != 0) {
    return FailedPrecondition(
        "Outbox::Add: no transaction is open on this connection (BEGIN first: the event "
        "must commit with the change it describes)");
  }
  Result<std::string> encoded = EncodeRow(topic, envelope, format);
  if (!encoded.ok()) return encoded.status();
  outbox::SqliteStatement st;
  if (Status s = st.Prepare(db, outbox::kInsertRow); !s.ok()) return s;
  st.BindText(1, topic);
  st.BindText(2, envelope.aggregate_id);
  st.BindText(3, envelope.event_id);
  st.BindText(4, envelope.event_type);
  st.BindBlob(5, *encoded);
  st.Bind(6, outbox::NowMicros());
  if (st.Step() != SQLITE_DONE) return outbox::SqliteError(db, "Outbox::Add");
  return Status::Ok();
}

Status Outbox::Add(pg_conn* db, std::string_view topic, const Envelope& envelope,
                   PayloadFormat format) {
  if (db == nullptr) return InvalidArgument("Outbox::Add: null connection");
  switch (PQtransactionStatus(db)) {
    case PQTRANS_INTRANS:
      break;
    case PQTRANS_INERROR:
      return FailedPrecondition("Outbox::Add: the transaction on this connection has failed");
    default:
      return FailedPrecondition(
          "Outbox::Add: no transaction is open on this connection (BEGIN first: the event "
          "must commit with the change it describes)");
  }
  Result<std::string> encoded = EncodeRow(topic, envelope, format);
  if (!encoded.ok()) return encoded.status();
  using outbox::PgParam;
  return outbox::PgExec(db, outbox::kInsertRow,
                        {PgParam::Text(topic), PgParam::Text(envelope.aggregate_id),
                         PgParam::Text(envelope.event_id), PgParam::Text(envelope.event_type),
                         PgParam::Bytes(*encoded), PgParam::Int(outbox::NowMicros())})
      .status();
}

}  // namespace evbus
