#include "adapters/postgres/pg_connection.h"

#include <poll.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace parley::pg {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// A NUL cannot travel in a text-format parameter (libpq reads C strings) nor live in a text
// column; it becomes U+FFFD rather than silently cutting the value short.
void append_clean(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '\0') {
      out += kReplacement;
    } else {
      out += c;
    }
  }
}

std::string first_line(const char* s) {
  if (!s) return {};
  std::string out(s);
  auto nl = out.find('\n');
  if (nl != std::string::npos) out.resize(nl);
  return out;
}

// SQLSTATEs after which the same call may well succeed later: the caller is told
// `unavailable` (retry) rather than `internal`.
bool transient(std::string_view state) {
  if (state.size() != 5) return false;
  std::string_view cls = state.substr(0, 2);
  return cls == "08"                          // connection exception
         || cls == "53"                       // insufficient resources
         || cls == "57"                       // operator intervention (shutdown, cancel)
         || state == "40001"                  // serialization failure
         || state == "40P01"                  // deadlock detected
         || state == "55P03" || cls == "58";  // lock not available, system error
}

}  // namespace

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// ---- Params, TextArray, PgResult ----------------------------------------------------------

Params& Params::add(std::string_view v) {
  std::string s;
  s.reserve(v.size());
  append_clean(s, v);
  values_.push_back(std::move(s));
  nulls_.push_back(false);
  return *this;
}

Params& Params::add(int64_t v) {
  values_.push_back(std::to_string(v));
  nulls_.push_back(false);
  return *this;
}

Params& Params::add_null() {
  values_.emplace_back();
  nulls_.push_back(true);
  return *this;
}

std::vector<const char*> Params::pointers() const {
  std::vector<const char*> out(values_.size());
  for (size_t i = 0; i < values_.size(); ++i) out[i] = nulls_[i] ? nullptr : values_[i].c_str();
  return out;
}

void TextArray::separator() {
  if (n_++ > 0) s_ += ',';
}

void TextArray::add(std::string_view v) {
  separator();
  s_ += '"';
  for (char c : v) {
    if (c == '"' || c == '\\') {
      s_ += '\\';
      s_ += c;
    } else if (c == '\0') {
      s_ += kReplacement;
    } else {
      s_ += c;
    }
  }
  s_ += '"';
}

void TextArray::add(int64_t v) {
  separator();
  s_ += std::to_string(v);
}

void TextArray::add_null() {
  separator();
  s_ += "NULL";
}

std::string TextArray::take() {
  s_.push_back('}');
  std::string out;
  out.swap(s_);
  s_.push_back('{');
  n_ = 0;
  return out;
}

PgResult& PgResult::operator=(PgResult&& o) noexcept {
  if (this != &o) {
    reset();
    r_ = std::exchange(o.r_, nullptr);
  }
  return *this;
}

void PgResult::reset() {
  if (r_) PQclear(r_);
  r_ = nullptr;
}

int64_t PgResult::int64(int row, int col) const {
  if (is_null(row, col)) return 0;
  return std::strtoll(PQgetvalue(r_, row, col), nullptr, 10);
}

int64_t PgResult::affected() const {
  const char* n = r_ ? PQcmdTuples(r_) : nullptr;
  return n && *n ? std::strtoll(n, nullptr, 10) : 0;
}

// ---- Backoff ------------------------------------------------------------------------------

void Backoff::failed(int64_t now_ms) {
  int64_t d = delay_ms_.load(std::memory_order_relaxed);
  d = d == 0 ? min_ms_ : std::min(d * 2, max_ms_);
  delay_ms_.store(d, std::memory_order_relaxed);
  retry_at_.store(now_ms + d, std::memory_order_relaxed);
}

void Backoff::succeeded() {
  delay_ms_.store(0, std::memory_order_relaxed);
  retry_at_.store(0, std::memory_order_relaxed);
}

// ---- Connection ---------------------------------------------------------------------------

Connection::Connection(std::string conninfo, ConnOptions options, std::shared_ptr<Backoff> backoff)
    : conninfo_(std::move(conninfo)), options_(std::move(options)), backoff_(std::move(backoff)) {}

Connection::~Connection() {
  close();
}

void Connection::close() {
  if (conn_) PQfinish(conn_);
  conn_ = nullptr;
  prepared_.clear();
}

Status Connection::connect() {
  if (connected()) return Ok{};
  close();
  if (backoff_ && !backoff_->may_try(steady_ms())) {
    return make_error(Errc::unavailable, "postgres is unreachable (retrying shortly)");
  }
  std::string timeout = std::to_string(options_.connect_timeout_s);
  // Keywords before the expanded dbname are defaults the caller's conninfo may override.
  // Keepalives notice a vanished host on an idle connection.
  const char* keys[] = {"connect_timeout",     "application_name", "keepalives", "keepalives_idle",
                        "keepalives_interval", "keepalives_count", "dbname",     nullptr};
  const char* values[] = {
      timeout.c_str(), options_.application_name.c_str(), "1", "10", "3", "3", conninfo_.c_str(),
      nullptr};
  conn_ = PQconnectdbParams(keys, values, 1);
  if (!conn_ || PQstatus(conn_) != CONNECTION_OK) {
    std::string why = conn_ ? first_line(PQerrorMessage(conn_)) : "out of memory";
    close();
    if (backoff_) backoff_->failed(steady_ms());
    return make_error(Errc::unavailable, "cannot connect to postgres: " + why);
  }
  // Server notices (e.g. "already exists, skipping") are not errors; keep them off stderr.
  PQsetNoticeProcessor(
      conn_, [](void*, const char* message) { spdlog::debug("postgres: {}", first_line(message)); },
      nullptr);
  // Non-blocking, so a send to a server that stopped reading cannot hang past the deadline.
  PQsetnonblocking(conn_, 1);
  if (backoff_) backoff_->succeeded();
  return Ok{};
}

Error Connection::lost(const char* what) {
  lost_ = true;
  std::string why = conn_ ? first_line(PQerrorMessage(conn_)) : std::string();
  close();
  return make_error(Errc::unavailable, std::string("postgres connection lost (") + what + ")" +
                                           (why.empty() ? "" : ": " + why));
}

bool Connection::wait(short events, int64_t deadline_ms) {
  for (;;) {
    int64_t left = deadline_ms - steady_ms();
    if (left <= 0) return false;
    pollfd p{PQsocket(conn_), events, 0};
    int n = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 1000)));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return true;  // let libpq find and report the error
  }
}

template <typename Send>
Result<PgResult> Connection::round_trip(Send send, int timeout_ms) {
  if (timeout_ms <= 0) timeout_ms = options_.query_timeout_ms;
  int64_t deadline = steady_ms() + timeout_ms;
  auto timed_out = [&] {
    close();  // the statement may still be running: this connection is unusable now
    return make_error(Errc::unavailable,
                      "postgres did not answer within " + std::to_string(timeout_ms) + " ms");
  };
  if (!send(conn_)) return lost("send");
  for (;;) {
    int f = PQflush(conn_);
    if (f == 0) break;
    if (f < 0) return lost("send");
    if (!wait(POLLIN | POLLOUT, deadline)) return timed_out();
    if (!PQconsumeInput(conn_)) return lost("receive");
  }
  PgResult last;
  PgResult failure;
  bool failed = false;
  for (;;) {
    while (PQisBusy(conn_)) {
      if (!wait(POLLIN, deadline)) return timed_out();
      if (!PQconsumeInput(conn_)) return lost("receive");
    }
    PGresult* r = PQgetResult(conn_);
    if (!r) break;
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE || st == PGRES_NONFATAL_ERROR) {
      if (!failed) {
        failure = PgResult(r);
        failed = true;
      } else {
        PQclear(r);
      }
    } else {
      last = PgResult(r);
    }
  }
  if (!failed) return last;
  if (PQstatus(conn_) != CONNECTION_OK) return lost("statement");
  const char* state = PQresultErrorField(failure.raw(), PG_DIAG_SQLSTATE);
  std::string_view sv = state ? state : "";
  std::string msg = "postgres " + std::string(sv) + ": " +
                    first_line(PQresultErrorField(failure.raw(), PG_DIAG_MESSAGE_PRIMARY));
  Errc code = sv == "23505" ? Errc::conflict : transient(sv) ? Errc::unavailable : Errc::internal;
  return make_error(code, std::move(msg));
}

Result<PgResult> Connection::exec(const char* sql, int timeout_ms) {
  lost_ = false;
  if (Status c = connect(); !c) return c.error();
  return round_trip([&](PGconn* c) { return PQsendQuery(c, sql) == 1; }, timeout_ms);
}

Status Connection::prepare(const Statement& s, int timeout_ms) {
  auto r = round_trip([&](PGconn* c) { return PQsendPrepare(c, s.name, s.sql, 0, nullptr) == 1; },
                      timeout_ms);
  if (!r) return r.error();
  prepared_.insert(s.name);
  return Ok{};
}

Result<PgResult> Connection::exec_once(const Statement& s, const Params& params, int timeout_ms) {
  lost_ = false;
  if (Status c = connect(); !c) return c.error();
  if (!prepared_.count(s.name)) {
    if (Status p = prepare(s, timeout_ms); !p) return p.error();
  }
  std::vector<const char*> values = params.pointers();
  return round_trip(
      [&](PGconn* c) {
        return PQsendQueryPrepared(c, s.name, params.size(), values.data(), nullptr, nullptr, 0) ==
               1;
      },
      timeout_ms);
}

Result<PgResult> Connection::exec(const Statement& s, const Params& params, int timeout_ms) {
  // A connection unused for a while may have died with a restarted server: libpq finds out
  // only now. A statement safe to repeat then gets one more go on a fresh connection.
  bool reused = connected() && idle();
  auto r = exec_once(s, params, timeout_ms);
  if (!r && s.retry_on_reconnect && reused && conn_ == nullptr && lost_) {
    r = exec_once(s, params, timeout_ms);
  }
  return r;
}

// ---- Transaction --------------------------------------------------------------------------

Transaction::~Transaction() {
  if (open_ && c_.connected()) (void)c_.exec("ROLLBACK");
}

Status Transaction::begin(const char* sql) {
  auto r = c_.exec(sql);
  if (!r) return r.error();
  open_ = true;
  return Ok{};
}

Status Transaction::commit() {
  open_ = false;
  auto r = c_.exec("COMMIT");
  if (!r) return r.error();
  // COMMIT of a transaction that failed earlier "succeeds" as a ROLLBACK.
  if (std::strcmp(PQcmdStatus(r->raw()), "COMMIT") != 0) {
    return make_error(Errc::internal, "postgres rolled the transaction back");
  }
  return Ok{};
}

}  // namespace parley::pg
