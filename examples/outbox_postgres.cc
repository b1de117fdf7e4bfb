#include <evbus/evbus.h>
#include <libpq-fe.h>

#include <condition_variable>
#include <cstdio>
#include <mutex>

// Runs `sql` on `db`; false (and the error printed) if it failed.
static bool Exec(PGconn* db, const char* sql) {
  PGresult* r = PQexec(db, sql);
  const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  if (!ok) std::fprintf(stderr, "%s: %s", sql, PQerrorMessage(db));
  PQclear(r);
  return ok;
}

// Usage: outbox_postgres postgresql://user@host:port/database
int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s postgresql://user@host:port/database\n", argv[0]);
    return 2;
  }
  const std::string url = argv[1];
  PGconn* db = PQconnectdb(url.c_str());
  if (PQstatus(db) != CONNECTION_OK) {
    std::fprintf(stderr, "%s", PQerrorMessage(db));
    return 1;
  }
  if (!Exec(db,
            "CREATE TABLE IF NOT EXISTS orders (id TEXT PRIMARY KEY, total INT);"
            "CREATE TABLE IF NOT EXISTS invoices (event_id TEXT PRIMARY KEY, order_id TEXT)")) {
    return 1;
  }
  evbus::Status s = evbus::Outbox::Migrate(db);  // evbus_outbox, evbus_inbox

  // The order and its event commit together, or neither does.
  const evbus::Envelope placed =
      evbus::NewEnvelope("order-42", "OrderPlaced", 1, R"({"total":30})");
  if (s.ok() && Exec(db, "BEGIN") &&
      Exec(db, "INSERT INTO orders VALUES ('order-42', 30) ON CONFLICT (id) DO NOTHING")) {
    s = evbus::Outbox::Add(db, "orders", placed);
    if (!Exec(db, s.ok() ? "COMMIT" : "ROLLBACK")) return 1;
  }
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }

  // Billing consumes the event once: the invoice and the inbox's record of
  // the event id commit in one transaction.
  auto bus = evbus::EventBus::Create(evbus::Config{});  // the embedded memory broker
  auto inbox = evbus::Inbox::Open({.database = url, .consumer_group = "billing"});
  if (!bus.ok() || !inbox.ok()) return 1;
  std::mutex mu;
  std::condition_variable cv;
  bool invoiced = false;
  s = (*bus)->SubscribeEnvelope(
      "orders",
      (*inbox)->Wrap([&](const evbus::Envelope& e, const evbus::Delivery&, evbus::Transaction& tx) {
        const char* values[] = {e.event_id.c_str(), e.aggregate_id.c_str()};
        PGresult* r = PQexecParams(tx.postgres, "INSERT INTO invoices VALUES ($1, $2)", 2, nullptr,
                                   values, nullptr, nullptr, 0);
        const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (!ok) return evbus::Status(evbus::ErrorCode::kUnavailable, "insert invoice failed");
        std::lock_guard<std::mutex> lock(mu);
        invoiced = invoiced || e.event_id == placed.event_id;
        cv.notify_all();
        return evbus::Status();
      }));
  if (s.ok()) s = (*bus)->Start();
  // The relay publishes committed rows and marks them on the broker's ack.
  // Several relays may serve one PostgreSQL database.
  auto relay = evbus::OutboxRelay::Start(**bus, {.database = url});
  if (!s.ok() || !relay.ok()) {
    std::fprintf(stderr, "%s\n", (s.ok() ? relay.status() : s).ToString().c_str());
    return 1;
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_for(lock, std::chrono::seconds(10), [&] { return invoiced; });
  }
  (*relay)->Close();  // the relay before the bus it publishes through
  (void)(*bus)->Close();
  std::printf("invoiced: %s; relay published %llu row(s)\n", invoiced ? "yes" : "no",
              static_cast<unsigned long long>((*relay)->stats().published));
  PQfinish(db);
  return invoiced ? 0 : 1;
}
