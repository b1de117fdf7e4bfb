#include "outbox/store.h"

#include <chrono>
#include <string>

namespace evbus::outbox {

Result<DatabaseUrl> ParseDatabaseUrl(std::string_view url) {
  DatabaseUrl out;
  if (url.starts_with("postgresql://") || url.starts_with("postgres://")) {
    out.kind = DatabaseUrl::kPostgres;
    out.target = std::string(url);
    return out;
  }
  if (url.starts_with("sqlite:") && url.size() > 7) {
    out.kind = DatabaseUrl::kSqlite;
    out.target = std::string(url.substr(7));
    const bool in_memory =
        out.target == ":memory:" || out.target.find("mode=memory") != std::string::npos;
    if (!in_memory) {
      std::string path = out.target;
      if (path.starts_with("file:")) path = path.substr(5, path.find('?') - 5);
      out.lock_path = path + "-evbus-relay.lock";
    }
    return out;
  }
  return InvalidArgument("database: '" + std::string(url) +
                         "' is neither sqlite:PATH nor a postgresql:// URI");
}

Result<std::unique_ptr<Store>> OpenStore(std::string_view url, StoreOptions options) {
  Result<DatabaseUrl> parsed = ParseDatabaseUrl(url);
  if (!parsed.ok()) return parsed.status();
  return parsed->kind == DatabaseUrl::kPostgres ? OpenPostgresStore(*parsed, options)
                                                : OpenSqliteStore(*parsed, options);
}

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace evbus::outbox
