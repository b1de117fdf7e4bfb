// Databases the outbox and inbox keep their tables in: SQLite (libsqlite3,
// embedded, the default) and PostgreSQL (libpq, a real server).
//
// A database is named by a URL:
//   sqlite:PATH                  a file (created if missing), e.g. sqlite:orders.db
//   sqlite:file:NAME?mode=memory&cache=shared
//                                an in-memory database shared by the
//                                process's connections (SQLite URI syntax)
//   postgresql://... postgres://...
//                                a libpq connection URI, e.g.
//                                postgresql://app@127.0.0.1:5432/orders
// evbus's tables are evbus_schema, evbus_outbox and evbus_inbox (unqualified:
// on PostgreSQL they live in the first schema of the search_path). README.md,
// "Outbox and inbox", lists their columns and indexes.
//
// Thread safety: a Transaction is used by one thread, for one call.

#ifndef EVBUS_DATABASE_H_
#define EVBUS_DATABASE_H_

// The client libraries' handle types, declared here so that including evbus
// does not pull in <sqlite3.h> or <libpq-fe.h>. PGconn is libpq's typedef of
// struct pg_conn.
struct sqlite3;
struct pg_conn;

namespace evbus {

// The open transaction an inbox handler's work runs in: exactly one of the
// two connections is set. Use it for the handler's own statements; do not
// begin, commit or roll back on it (the inbox does).
struct Transaction {
  sqlite3* sqlite = nullptr;
  pg_conn* postgres = nullptr;
};

}  // namespace evbus

#endif  // EVBUS_DATABASE_H_
