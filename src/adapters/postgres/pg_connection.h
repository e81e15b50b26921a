#pragma once
// A thin RAII layer over one libpq connection. Every call returns a Result: nothing here throws,
// so the pool's workers and the persister can use it on the hot path.
//
// - Connects lazily and reconnects on the next use once the connection is lost (PQstatus).
// - Named statements are prepared once per connection, on their first use.
// - Every round trip has a deadline (libpq's asynchronous API and poll): a server that stopped
//   answering (paused, or a dead host whose TCP connection still looks open) costs a caller at
//   most that long; the connection is then dropped and the call answered `unavailable`.
// - A shared Backoff keeps a dead server from being hammered: after a failed connect, connects
//   are refused at once (`unavailable`) for a while that grows up to a bound.
#include <libpq-fe.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "domain/result.h"

namespace parley::pg {

// A named statement. Define each once (a constant), the connection prepares it on first use.
struct Statement {
  const char* name;
  const char* sql;
  // True for a statement that may run twice (a read, or a write with the same effect twice):
  // when a connection that looked fine turns out to be lost (the server restarted since its
  // last use), it is run again once on a fresh connection instead of failing.
  bool retry_on_reconnect = false;
};

// Parameters in text format (libpq's default). Arrays travel as array literals (see TextArray).
class Params {
 public:
  Params& add(std::string_view v);
  Params& add(int64_t v);
  Params& add_null();

  int size() const { return static_cast<int>(values_.size()); }
  /// The pointers libpq wants; valid until the next add.
  std::vector<const char*> pointers() const;

 private:
  std::vector<std::string> values_;
  std::vector<bool> nulls_;
};

// Builds a PostgreSQL array literal ({"a","b",NULL}) for unnest(): one statement then inserts
// any number of rows. A NUL character (which no text column can hold) becomes U+FFFD, so one
// odd message cannot make a whole batch fail for ever.
class TextArray {
 public:
  void add(std::string_view v);
  void add(int64_t v);
  void add_null();
  size_t size() const { return n_; }
  /// The literal; the array is empty again afterwards.
  std::string take();

 private:
  void separator();
  std::string s_ = "{";
  size_t n_ = 0;
};

// One PGresult, owned.
class PgResult {
 public:
  PgResult() = default;
  explicit PgResult(PGresult* r) : r_(r) {}
  ~PgResult() { reset(); }
  PgResult(PgResult&& o) noexcept : r_(o.r_) { o.r_ = nullptr; }
  PgResult& operator=(PgResult&& o) noexcept;
  PgResult(const PgResult&) = delete;
  PgResult& operator=(const PgResult&) = delete;

  int rows() const { return r_ ? PQntuples(r_) : 0; }
  bool is_null(int row, int col) const { return PQgetisnull(r_, row, col) != 0; }
  std::string_view view(int row, int col) const {
    return {PQgetvalue(r_, row, col), static_cast<size_t>(PQgetlength(r_, row, col))};
  }
  std::string text(int row, int col) const { return std::string(view(row, col)); }
  /// The column as an integer; 0 if NULL (callers that care check is_null).
  int64_t int64(int row, int col) const;
  /// Rows changed by an INSERT/UPDATE/DELETE.
  int64_t affected() const;
  PGresult* raw() const { return r_; }

 private:
  void reset();
  PGresult* r_ = nullptr;
};

// When connects may be tried again. Shared by the connections of one pool: once one of them
// found the server gone, the others answer `unavailable` at once instead of trying too.
class Backoff {
 public:
  explicit Backoff(int64_t min_ms = 100, int64_t max_ms = 2000)
      : min_ms_(min_ms), max_ms_(max_ms) {}
  bool may_try(int64_t now_ms) const { return now_ms >= retry_at_.load(std::memory_order_relaxed); }
  void failed(int64_t now_ms);
  void succeeded();

 private:
  const int64_t min_ms_;
  const int64_t max_ms_;
  std::atomic<int64_t> retry_at_{0};
  std::atomic<int64_t> delay_ms_{0};
};

/// Monotonic milliseconds.
int64_t steady_ms();

// Default connection options, which the caller's conninfo may override.
struct ConnOptions {
  int connect_timeout_s = 2;
  int query_timeout_ms = 10000;  // default deadline of one round trip
  std::string application_name = "parley";
};

class Connection {
 public:
  /// @p conninfo: a libpq connection string or URI. Does not connect yet.
  Connection(std::string conninfo, ConnOptions options = {},
             std::shared_ptr<Backoff> backoff = nullptr);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  /// Connects unless connected; `unavailable` if the server cannot be reached (or the backoff
  /// says not to try yet).
  Status connect();
  bool connected() const { return conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK; }
  /// Drops the connection; the next call reconnects.
  void close();

  /// Runs SQL without parameters (BEGIN, COMMIT, DDL; several statements are allowed).
  Result<PgResult> exec(const char* sql, int timeout_ms = 0);
  /// Runs a named statement (prepared on this connection on first use).
  Result<PgResult> exec(const Statement& statement, const Params& params, int timeout_ms = 0);
  Result<PgResult> exec(const Statement& statement) { return exec(statement, Params{}); }

  /// True when the last failed call failed because the connection broke (not a timeout, not
  /// an SQL error): a call that may be repeated can then be tried again on a fresh connection.
  bool last_failure_was_loss() const { return lost_; }

  /// True when no transaction is open.
  bool idle() const { return conn_ && PQtransactionStatus(conn_) == PQTRANS_IDLE; }

 private:
  template <typename Send>
  Result<PgResult> round_trip(Send send, int timeout_ms);
  Result<PgResult> exec_once(const Statement& statement, const Params& params, int timeout_ms);
  Status prepare(const Statement& statement, int timeout_ms);
  Error lost(const char* what);
  bool wait(short events, int64_t deadline_ms);

  std::string conninfo_;
  ConnOptions options_;
  std::shared_ptr<Backoff> backoff_;
  PGconn* conn_ = nullptr;
  bool lost_ = false;  // the last failure was the connection breaking (not a timeout)
  std::unordered_set<std::string> prepared_;
};

// A transaction on a connection: rolled back unless committed. begin() and commit() report
// failures; the rollback of an abandoned transaction is best effort (a lost connection has
// rolled it back already).
class Transaction {
 public:
  explicit Transaction(Connection& c) : c_(c) {}
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  /// @p sql: "BEGIN" or e.g. "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY".
  Status begin(const char* sql = "BEGIN");
  Status commit();

 private:
  Connection& c_;
  bool open_ = false;
};

}  // namespace parley::pg
