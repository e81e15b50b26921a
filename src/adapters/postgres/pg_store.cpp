// PgStore: its connections, the accounts, the dead letters and the shared settings. History
// pages are in pg_store_history.cpp, the fold snapshots in pg_store_snapshots.cpp, the
// persister's batches in pg_store_persist.cpp.
#include "adapters/postgres/pg_store.h"

#include <spdlog/spdlog.h>

#include <stdexcept>

#include "adapters/postgres/pg_migrations.h"
#include "adapters/postgres/pg_store_sql.h"

namespace parley {

using namespace pg_store_detail;
using pg::Params;
using pg::Statement;

namespace {

constexpr Statement kFindUser{"find_user", "SELECT password_hash FROM users WHERE name = $1", true};

constexpr Statement kCreateUser{
    "create_user",
    "INSERT INTO users(name, password_hash) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING"};

constexpr Statement kRecordDeadLetter{
    "record_dead_letter",
    "INSERT INTO dead_letters(source, session, \"user\", op, payload, reason, at_ms) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (source) DO NOTHING"};

constexpr Statement kInsertSetting{
    "insert_setting",
    "INSERT INTO settings(key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING", true};

constexpr Statement kSelectSetting{"select_setting", "SELECT value FROM settings WHERE key = $1",
                                   true};

}  // namespace

PgStore::PgStore(PgStoreOptions options)
    : options_(std::move(options)),
      pool_([this] {
        pg::PgPoolOptions p = options_.pool;
        p.conninfo = options_.conninfo;
        return p;
      }()),
      blocking_(
          options_.conninfo,
          [this] {
            pg::ConnOptions c = options_.pool.connection;
            c.query_timeout_ms = options_.blocking_timeout_ms;
            return c;
          }(),
          pool_.backoff()) {
  if (options_.migrate) {
    std::lock_guard lock(blocking_mutex_);
    auto v = pg::migrate(blocking_);
    if (!v) throw std::runtime_error("postgres migrations: " + v.error().message);
  } else {
    std::lock_guard lock(blocking_mutex_);
    if (Status s = blocking_.connect(); !s) throw std::runtime_error(s.error().message);
  }
  pool_.start();
}

PgStore::~PgStore() {
  stop();
}

void PgStore::stop() {
  pool_.stop();
}

// ---- UserStore ----------------------------------------------------------------------------

void PgStore::create_user(std::string name, std::string password_hash,
                          std::function<void(Status)> done) {
  size_t bytes = kJobOverhead + name.size() + password_hash.size();
  pool_.submit<Ok>(
      bytes,
      [name = std::move(name), hash = std::move(password_hash)](pg::Connection& c) -> Status {
        auto r = c.exec(kCreateUser, Params().add(name).add(hash));
        if (!r) return r.error();
        if (r->affected() == 0) return make_error(Errc::conflict, "user name is taken");
        return Ok{};
      },
      std::move(done));
}

void PgStore::find_user(std::string name,
                        std::function<void(Result<std::optional<std::string>>)> done) {
  size_t bytes = kJobOverhead + name.size();
  pool_.submit<std::optional<std::string>>(
      bytes,
      [name = std::move(name)](pg::Connection& c) -> Result<std::optional<std::string>> {
        auto r = c.exec(kFindUser, Params().add(name));
        if (!r) return r.error();
        if (r->rows() == 0) return std::optional<std::string>();
        return std::optional<std::string>(r->text(0, 0));
      },
      std::move(done));
}

// ---- DeadLetters --------------------------------------------------------------------------

void PgStore::record(DeadLetter letter) {
  record(std::move(letter), std::string(), nullptr);
}

void PgStore::record(DeadLetter letter, std::string source, std::function<void(Status)> done) {
  static std::atomic<int64_t> logged_at{0};
  size_t bytes = kJobOverhead + source.size() + letter.session.size() + letter.user.size() +
                 letter.op.size() + letter.payload.size() + letter.reason.size();
  auto answer = [done = std::move(done)](Status s) {
    if (!s && log_now(logged_at)) spdlog::error("dead letter not recorded: {}", s.error().message);
    if (done) done(std::move(s));
  };
  pool_.submit<Ok>(
      bytes,
      [letter = std::move(letter), source = std::move(source)](pg::Connection& c) -> Status {
        Params p;
        if (source.empty()) {
          p.add_null();
        } else {
          p.add(source);
        }
        p.add(letter.session).add(letter.user).add(letter.op).add(letter.payload);
        p.add(letter.reason).add(letter.at_ms);
        return run(c, kRecordDeadLetter, p);
      },
      std::function<void(Status)>(std::move(answer)));
}

Result<std::string> PgStore::shared_setting(const std::string& key,
                                            const std::function<std::string()>& make_value) {
  std::string value = make_value();
  return blocking<std::string>([&](pg::Connection& c) -> Result<std::string> {
    if (Status s = run(c, kInsertSetting, Params().add(key).add(value)); !s) return s.error();
    // A separate statement: under READ COMMITTED it sees a value another instance committed
    // while our insert waited for it.
    auto r = c.exec(kSelectSetting, Params().add(key));
    if (!r) return r.error();
    if (r->rows() == 0) return make_error(Errc::internal, "setting " + key + " vanished");
    return r->text(0, 0);
  });
}

}  // namespace parley
