#include "adapters/sqlite/migrations.h"

#include <array>
#include <random>
#include <stdexcept>
#include <string>

namespace parley::sqlite {
namespace {

// Index i holds the step from user_version i to i + 1.
constexpr std::array<const char*, 1> kMigrations = {
    R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE users(
  name TEXT PRIMARY KEY,
  password_hash TEXT NOT NULL,
  created_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE rooms(
  name TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('public', 'private', 'dm')),
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE members(
  room TEXT NOT NULL REFERENCES rooms(name),
  user TEXT NOT NULL,
  PRIMARY KEY (room, user)) WITHOUT ROWID;
CREATE TABLE messages(
  room TEXT NOT NULL,
  seq INTEGER NOT NULL,
  msg_id TEXT NOT NULL,
  sender TEXT NOT NULL,
  text TEXT NOT NULL,
  ts INTEGER NOT NULL,
  client_msg_id TEXT,
  PRIMARY KEY (room, seq)) WITHOUT ROWID;
CREATE UNIQUE INDEX messages_client_msg_id ON messages(room, sender, client_msg_id)
  WHERE client_msg_id IS NOT NULL;
CREATE TABLE dead_letters(
  id INTEGER PRIMARY KEY,
  session TEXT NOT NULL,
  user TEXT NOT NULL,
  op TEXT NOT NULL,
  payload TEXT NOT NULL,
  reason TEXT NOT NULL,
  at INTEGER NOT NULL);
)sql",
};

std::string random_hex(size_t bytes) {
  std::random_device rd;
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < bytes; ++i) {
    auto b = rd() & 0xff;
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

int user_version(Db& db) {
  // Start-up only, so it may throw. Reading 0 on an error would re-run the first migration.
  StmtRef s = db.prepare("PRAGMA user_version");
  if (!s || s->step() != SQLITE_ROW) {
    throw std::runtime_error(std::string("cannot read the schema version: ") + db.last_error());
  }
  return static_cast<int>(s->int64(0));
}

}  // namespace

void migrate(Db& db) {
  int version = user_version(db);
  for (int v = version; v < static_cast<int>(kMigrations.size()); ++v) {
    db.exec_or_throw("BEGIN IMMEDIATE");
    db.exec_or_throw(kMigrations[v]);
    if (v == 0) {
      // The epoch names this message log for as long as its data lives.
      db.exec_or_throw("INSERT INTO meta(key, value) VALUES ('epoch', '" + random_hex(8) + "')");
    }
    db.exec_or_throw("PRAGMA user_version = " + std::to_string(v + 1));
    db.exec_or_throw("COMMIT");
  }
}

}  // namespace parley::sqlite
