// The versioned schema of evbus's tables, one list of steps per database.
// Step N brings a database from version N-1 to N; evbus_schema holds the
// version reached. Steps are only ever added, never edited: a database made
// by an older evbus is brought forward by the steps it lacks.
//
//   1  evbus_outbox: one row per event to publish, with the indexes the
//      relay's claim (pending rows in id order, an aggregate's unpublished
//      rows in id order) and the retention's delete use.
//   2  evbus_inbox: (consumer_group, event_key) recorded per handled event.

#ifndef EVBUS_OUTBOX_SCHEMA_H_
#define EVBUS_OUTBOX_SCHEMA_H_

#include <array>
#include <string_view>

#include "evbus/outbox.h"

namespace evbus::outbox {

inline constexpr std::array<std::string_view, kOutboxSchemaVersion> kSqliteSteps = {
    // 1
    "CREATE TABLE evbus_outbox ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " topic TEXT NOT NULL,"
    " aggregate_id TEXT NOT NULL,"
    " event_id TEXT NOT NULL,"
    " event_type TEXT NOT NULL,"
    " envelope BLOB NOT NULL,"
    " created_us INTEGER NOT NULL,"
    " state INTEGER NOT NULL DEFAULT 0,"  // 0 pending, 1 published, 2 dead
    " attempts INTEGER NOT NULL DEFAULT 0,"
    " next_attempt_us INTEGER NOT NULL DEFAULT 0,"
    " last_error TEXT,"
    " published_us INTEGER);"
    "CREATE INDEX evbus_outbox_pending ON evbus_outbox (id) WHERE state = 0;"
    "CREATE INDEX evbus_outbox_unpublished ON evbus_outbox (aggregate_id, id) WHERE state <> 1;"
    "CREATE INDEX evbus_outbox_published ON evbus_outbox (published_us) WHERE state = 1;",
    // 2
    "CREATE TABLE evbus_inbox ("
    " consumer_group TEXT NOT NULL,"
    " event_key TEXT NOT NULL,"
    " received_us INTEGER NOT NULL,"
    " PRIMARY KEY (consumer_group, event_key)) WITHOUT ROWID;"
    "CREATE INDEX evbus_inbox_received ON evbus_inbox (received_us);",
};

inline constexpr std::array<std::string_view, kOutboxSchemaVersion> kPostgresSteps = {
    // 1
    "CREATE TABLE evbus_outbox ("
    " id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    " topic TEXT NOT NULL,"
    " aggregate_id TEXT NOT NULL,"
    " event_id TEXT NOT NULL,"
    " event_type TEXT NOT NULL,"
    " envelope BYTEA NOT NULL,"
    " created_us BIGINT NOT NULL,"
    " state SMALLINT NOT NULL DEFAULT 0,"  // 0 pending, 1 published, 2 dead
    " attempts INTEGER NOT NULL DEFAULT 0,"
    " next_attempt_us BIGINT NOT NULL DEFAULT 0,"
    " last_error TEXT,"
    " published_us BIGINT);"
    "CREATE INDEX evbus_outbox_pending ON evbus_outbox (id) WHERE state = 0;"
    "CREATE INDEX evbus_outbox_unpublished ON evbus_outbox (aggregate_id, id) WHERE state <> 1;"
    "CREATE INDEX evbus_outbox_published ON evbus_outbox (published_us) WHERE state = 1;",
    // 2
    "CREATE TABLE evbus_inbox ("
    " consumer_group TEXT NOT NULL,"
    " event_key TEXT NOT NULL,"
    " received_us BIGINT NOT NULL,"
    " PRIMARY KEY (consumer_group, event_key));"
    "CREATE INDEX evbus_inbox_received ON evbus_inbox (received_us);",
};

// Statements both databases run as written: "$N" is a positional parameter
// to libpq and a named one to SQLite (which binds it by that name).

// The relay's claim: the oldest pending rows of aggregates whose first
// unpublished row is pending and due (not dead, not in backoff), each with
// that first row's id, so the relay can tell whether it holds the head of
// the aggregate's chain (another relay may hold it). $1 now (us), $2 limit.
inline constexpr std::string_view kClaimRows =
    "SELECT o.id, o.topic, o.envelope, o.attempts, o.aggregate_id,"
    " (SELECT min(e.id) FROM evbus_outbox AS e"
    " WHERE e.aggregate_id = o.aggregate_id AND e.state <> 1)"
    " FROM evbus_outbox AS o"
    " WHERE o.state = 0"
    " AND (SELECT h.state = 0 AND h.next_attempt_us <= $1 FROM evbus_outbox AS h"
    " WHERE h.aggregate_id = o.aggregate_id AND h.state <> 1 ORDER BY h.id LIMIT 1)"
    " ORDER BY o.id LIMIT $2";

inline constexpr std::string_view kInsertRow =
    "INSERT INTO evbus_outbox (topic, aggregate_id, event_id, event_type, envelope, created_us)"
    " VALUES ($1, $2, $3, $4, $5, $6)";

// $1 id, $2 published_us.
inline constexpr std::string_view kMarkPublished =
    "UPDATE evbus_outbox SET state = 1, published_us = $2, last_error = NULL WHERE id = $1";
// $1 id, $2 state (pending or dead), $3 attempts, $4 next_attempt_us, $5 last_error.
inline constexpr std::string_view kMarkFailed =
    "UPDATE evbus_outbox SET state = $2, attempts = $3, next_attempt_us = $4, last_error = $5"
    " WHERE id = $1";

// $1 before (us), $2 limit.
inline constexpr std::string_view kDeletePublished =
    "DELETE FROM evbus_outbox WHERE id IN (SELECT id FROM evbus_outbox"
    " WHERE state = 1 AND published_us < $1 LIMIT $2)";

inline constexpr std::string_view kSelectStatus =
    "SELECT (SELECT count(*) FROM evbus_outbox WHERE state = 0),"
    " (SELECT count(*) FROM evbus_outbox WHERE state = 2),"
    " (SELECT count(*) FROM evbus_outbox WHERE state = 1),"
    " (SELECT created_us FROM evbus_outbox WHERE state = 0 ORDER BY id LIMIT 1)";

inline constexpr std::string_view kRetryAllDead =
    "UPDATE evbus_outbox SET state = 0, attempts = 0, next_attempt_us = 0 WHERE state = 2";
inline constexpr std::string_view kRetryOneDead =
    "UPDATE evbus_outbox SET state = 0, attempts = 0, next_attempt_us = 0"
    " WHERE state = 2 AND id = $1";

// $1 group, $2 key, $3 received_us.
inline constexpr std::string_view kInsertInboxKey =
    "INSERT INTO evbus_inbox (consumer_group, event_key, received_us) VALUES ($1, $2, $3)"
    " ON CONFLICT DO NOTHING";
inline constexpr std::string_view kPurgeInbox = "DELETE FROM evbus_inbox WHERE received_us < $1";

}  // namespace evbus::outbox

#endif  // EVBUS_OUTBOX_SCHEMA_H_
