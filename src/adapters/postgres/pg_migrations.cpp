#include "adapters/postgres/pg_migrations.h"

#include <array>
#include <string>

namespace parley::pg {
namespace {

// Index i holds the step to version i + 1.
//
// Notes on the schema: rooms.created_at, messages.ts and dead_letters.at_ms are unix ms (the
// broker's LogAppendTime, folded: they must round-trip exactly). rooms.kind: 0 public,
// 1 private, 2 direct. No foreign keys: the fold decides what is consistent, and a constraint
// that refused one of its batches would stall the persister for ever.
constexpr std::array<const char*, 1> kMigrations = {
    R"sql(
CREATE TABLE users(
  name text PRIMARY KEY,
  password_hash text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE rooms(
  name text PRIMARY KEY,
  kind smallint NOT NULL CHECK (kind IN (0, 1, 2)),
  created_by text NOT NULL,
  created_at bigint NOT NULL,
  partition int NOT NULL,
  last_seq bigint NOT NULL DEFAULT 0);
CREATE INDEX rooms_partition ON rooms(partition);
CREATE TABLE members(
  room text NOT NULL,
  "user" text NOT NULL,
  PRIMARY KEY (room, "user"));
CREATE TABLE messages(
  room text NOT NULL,
  seq bigint NOT NULL,
  msg_id text NOT NULL,
  sender text NOT NULL,
  text text NOT NULL,
  ts bigint NOT NULL,
  client_msg_id text,
  partition int NOT NULL,
  PRIMARY KEY (room, seq));
CREATE INDEX messages_partition_seq ON messages(partition, seq);
CREATE TABLE dead_letters(
  id bigserial PRIMARY KEY,
  source text UNIQUE,
  session text NOT NULL,
  "user" text NOT NULL,
  op text NOT NULL,
  payload text NOT NULL,
  reason text NOT NULL,
  at_ms bigint NOT NULL);
CREATE TABLE log_offsets(
  topic text NOT NULL,
  partition int NOT NULL,
  next_offset bigint NOT NULL,
  PRIMARY KEY (topic, partition));
CREATE TABLE settings(
  key text PRIMARY KEY,
  value text NOT NULL);
)sql",
};

// pg_advisory_xact_lock's key: any constant, the same in every instance ("parley" in ASCII).
constexpr const char* kLock = "SELECT pg_advisory_xact_lock(7070617212566905)";

}  // namespace

int newest_schema_version() {
  return static_cast<int>(kMigrations.size());
}

Result<int> migrate(Connection& c) {
  Transaction tx(c);
  if (Status s = tx.begin(); !s) return s.error();
  if (auto r = c.exec(kLock, 60000); !r) return r.error();
  if (auto r = c.exec("CREATE TABLE IF NOT EXISTS schema_migrations("
                      "version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())");
      !r) {
    return r.error();
  }
  auto current = c.exec("SELECT coalesce(max(version), 0) FROM schema_migrations");
  if (!current) return current.error();
  int version = static_cast<int>(current->int64(0, 0));
  if (version > newest_schema_version()) {
    return make_error(Errc::internal, "the database schema (version " + std::to_string(version) +
                                          ") is newer than this build knows");
  }
  for (int v = version; v < newest_schema_version(); ++v) {
    if (auto r = c.exec(kMigrations[v], 60000); !r) {
      return make_error(r.error().code,
                        "migration " + std::to_string(v + 1) + ": " + r.error().message);
    }
    std::string mark =
        "INSERT INTO schema_migrations(version) VALUES (" + std::to_string(v + 1) + ")";
    if (auto r = c.exec(mark.c_str()); !r) return r.error();
  }
  if (Status s = tx.commit(); !s) return s.error();
  return newest_schema_version();
}

}  // namespace parley::pg
