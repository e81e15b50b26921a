#include "adapters/sqlite/sqlite_db.h"

#include <stdexcept>

namespace parley::sqlite {

Db::Db(const std::string& path, bool read_only, const std::string& vfs) {
  int flags = read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  flags |= SQLITE_OPEN_NOMUTEX;  // each connection is used by one thread only
  if (sqlite3_open_v2(path.c_str(), &db_, flags, vfs.empty() ? nullptr : vfs.c_str()) !=
      SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    throw std::runtime_error("cannot open " + path + ": " + msg);
  }
  // Extended codes tell a full disk from a failed fsync in the log; comparisons with
  // SQLITE_OK, SQLITE_ROW and SQLITE_DONE are unaffected.
  if (sqlite3_extended_result_codes(db_, 1) != SQLITE_OK ||
      sqlite3_busy_timeout(db_, 5000) != SQLITE_OK) {
    std::string msg = sqlite3_errmsg(db_);
    sqlite3_close(db_);
    throw std::runtime_error("cannot configure " + path + ": " + msg);
  }
}

Db::~Db() {
  cache_.clear();  // statements must be finalized before the connection closes
  sqlite3_close(db_);
}

void Db::exec_or_throw(const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    throw std::runtime_error("sqlite: " + msg + " in: " + sql.substr(0, 80));
  }
}

int Db::exec(const char* sql) {
  return sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
}

StmtRef Db::prepare(const char* sql) {
  // Keyed by the address of the SQL literal: every call site passes a string constant.
  auto it = cache_.find(sql);
  if (it != cache_.end()) return StmtRef(it->second.get());
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr) != SQLITE_OK) {
    return StmtRef(nullptr);
  }
  auto stmt = std::make_unique<Stmt>(raw);
  Stmt* p = stmt.get();
  cache_.emplace(sql, std::move(stmt));
  return StmtRef(p);
}

}  // namespace parley::sqlite
