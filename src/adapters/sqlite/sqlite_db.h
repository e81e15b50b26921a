#pragma once
// A thin RAII layer over the sqlite3 C API: one connection, prepared statements cached by
// their SQL text. Start-up calls (open, exec of DDL) throw; per-message calls return codes,
// and every code is surfaced: a failed bind is reported by the step that follows it.
#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

namespace parley::sqlite {

class Stmt {
 public:
  explicit Stmt(sqlite3_stmt* s) : s_(s) {}
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  // Resets the statement for a new use; bind then step. The codes are not needed here: reset
  // repeats the error of the last step, which that step already returned to its caller.
  Stmt& reset() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
    bind_rc_ = SQLITE_OK;
    return *this;
  }
  Stmt& bind(int i, std::string_view v) {
    // A text too long for an int is refused here rather than truncated by the cast.
    if (v.size() > static_cast<size_t>(INT32_MAX)) return keep(SQLITE_TOOBIG);
    return keep(sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
  }
  Stmt& bind(int i, int64_t v) { return keep(sqlite3_bind_int64(s_, i, v)); }
  Stmt& bind_null(int i) { return keep(sqlite3_bind_null(s_, i)); }
  /// SQLITE_ROW, SQLITE_DONE, or an error code (that of a failed bind, without stepping).
  int step() { return bind_rc_ != SQLITE_OK ? bind_rc_ : sqlite3_step(s_); }

  int64_t int64(int col) const { return sqlite3_column_int64(s_, col); }
  std::string text(int col) const {
    auto p = reinterpret_cast<const char*>(sqlite3_column_text(s_, col));
    return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(s_, col))) : std::string();
  }
  bool is_null(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }

 private:
  // Binds chain, so the first failure is kept and step reports it.
  Stmt& keep(int rc) {
    if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
    return *this;
  }

  sqlite3_stmt* s_;
  int bind_rc_ = SQLITE_OK;
};

// A cached statement on loan: reset when the loan ends, so no statement keeps a read
// transaction (and with it an old snapshot) open between uses.
class StmtRef {
 public:
  explicit StmtRef(Stmt* s) : s_(s) {}
  ~StmtRef() {
    if (s_) s_->reset();
  }
  StmtRef(const StmtRef&) = delete;
  StmtRef& operator=(const StmtRef&) = delete;
  explicit operator bool() const { return s_ != nullptr; }
  bool operator!() const { return s_ == nullptr; }
  Stmt* operator->() const { return s_; }
  Stmt& operator*() const { return *s_; }

 private:
  Stmt* s_;
};

class Db {
 public:
  /// Opens (creating if needed) the database at @p path through the VFS named @p vfs (empty:
  /// the default one); throws on failure.
  Db(const std::string& path, bool read_only, const std::string& vfs = {});
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  /// Runs SQL without results; throws on failure (start-up and DDL).
  void exec_or_throw(const std::string& sql);
  /// Runs SQL without results; returns the sqlite result code.
  int exec(const char* sql);
  /// A cached prepared statement for @p sql, ready to bind; empty on error.
  StmtRef prepare(const char* sql);

  const char* last_error() const { return sqlite3_errmsg(db_); }
  /// True when no transaction is open: also after SQLite rolled one back on its own.
  bool autocommit() const { return sqlite3_get_autocommit(db_) != 0; }
  sqlite3* raw() { return db_; }

 private:
  sqlite3* db_ = nullptr;
  std::unordered_map<const char*, std::unique_ptr<Stmt>> cache_;
};

}  // namespace parley::sqlite
