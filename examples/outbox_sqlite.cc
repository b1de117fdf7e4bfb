#include <evbus/evbus.h>
#include <sqlite3.h>

#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>

// Runs `sql` on `db`; false (and the error printed) if it failed.
static bool Exec(sqlite3* db, const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &error) == SQLITE_OK) return true;
  std::fprintf(stderr, "%s: %s\n", sql, error);
  sqlite3_free(error);
  return false;
}

int main() {
  const std::string path = (std::filesystem::temp_directory_path() / "evbus-shop.db").string();
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) return 1;
  sqlite3_busy_timeout(db, 5000);  // the relay and the inbox write to this file too
  if (!Exec(db,
            "PRAGMA journal_mode=WAL; CREATE TABLE orders (id TEXT PRIMARY KEY, total INT);"
            "CREATE TABLE invoices (order_id TEXT PRIMARY KEY)")) {
    return 1;
  }
  evbus::Status s = evbus::Outbox::Migrate(db);  // evbus_outbox, evbus_inbox

  // The order and its event commit together, or neither does.
  if (s.ok() && Exec(db, "BEGIN") && Exec(db, "INSERT INTO orders VALUES ('order-42', 30)")) {
    s = evbus::Outbox::Add(db, "orders",
                           evbus::NewEnvelope("order-42", "OrderPlaced", 1, R"({"total":30})"));
    if (!Exec(db, s.ok() ? "COMMIT" : "ROLLBACK")) return 1;
  }
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }

  // Billing consumes the event once: the invoice and the inbox's record of
  // the event id commit in one transaction.
  auto bus = evbus::EventBus::Create(evbus::Config{});  // the embedded memory broker
  auto inbox = evbus::Inbox::Open({.database = "sqlite:" + path, .consumer_group = "billing"});
  if (!bus.ok() || !inbox.ok()) return 1;
  std::mutex mu;
  std::condition_variable cv;
  bool invoiced = false;
  s = (*bus)->SubscribeEnvelope(
      "orders",
      (*inbox)->Wrap([&](const evbus::Envelope& e, const evbus::Delivery&, evbus::Transaction& tx) {
        sqlite3_stmt* insert = nullptr;
        sqlite3_prepare_v2(tx.sqlite, "INSERT INTO invoices VALUES (?1)", -1, &insert, nullptr);
        sqlite3_bind_text(insert, 1, e.aggregate_id.c_str(), -1, SQLITE_TRANSIENT);
        const bool ok = sqlite3_step(insert) == SQLITE_DONE;
        sqlite3_finalize(insert);
        if (!ok) return evbus::Status(evbus::ErrorCode::kUnavailable, "insert invoice failed");
        std::lock_guard<std::mutex> lock(mu);
        invoiced = true;
        cv.notify_all();
        return evbus::Status();
      }));
  if (s.ok()) s = (*bus)->Start();
  // The relay publishes committed rows and marks them on the broker's ack.
  auto relay = evbus::OutboxRelay::Start(**bus, {.database = "sqlite:" + path});
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
  sqlite3_close(db);
  return invoiced ? 0 : 1;
}
