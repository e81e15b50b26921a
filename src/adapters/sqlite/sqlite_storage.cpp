#include "adapters/sqlite/sqlite_storage.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <stdexcept>

#include "adapters/sqlite/migrations.h"
#include "app/metrics.h"

namespace parley {
namespace {

int64_t steady_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// True at most once a second per @p last: a failing disk or a flood must not flood the log too.
bool log_now(std::atomic<int64_t>& last) {
  int64_t now = steady_now_ms();
  int64_t prev = last.load(std::memory_order_relaxed);
  return now - prev >= 1000 && last.compare_exchange_strong(prev, now);
}

Error db_error(sqlite::Db& db, const char* what) {
  static std::atomic<int64_t> logged_at{0};
  if (log_now(logged_at)) spdlog::error("sqlite {}: {}", what, db.last_error());
  return make_error(Errc::unavailable, std::string("storage error: ") + what);
}

Message row_message(const sqlite::Stmt& s) {
  // Column order of every message SELECT below.
  return Message{s.text(0),
                 s.int64(1),
                 s.text(2),
                 s.text(3),
                 s.text(4),
                 s.int64(5),
                 s.is_null(6) ? std::string() : s.text(6)};
}

constexpr const char* kSelectAfter =
    "SELECT room, seq, msg_id, sender, text, ts, client_msg_id FROM messages "
    "WHERE room = ?1 AND seq > ?2 ORDER BY seq ASC LIMIT ?3";
constexpr const char* kSelectBefore =
    "SELECT room, seq, msg_id, sender, text, ts, client_msg_id FROM messages "
    "WHERE room = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT ?3";
constexpr const char* kSelectByClientId =
    "SELECT room, seq, msg_id, sender, text, ts, client_msg_id FROM messages "
    "WHERE room = ?1 AND sender = ?2 AND client_msg_id = ?3";
constexpr const char* kInsertMessage =
    "INSERT INTO messages(room, seq, msg_id, sender, text, ts, client_msg_id) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
constexpr const char* kSelectHead = "SELECT coalesce(max(seq), 0) FROM messages WHERE room = ?1";

// What a queued job holds, roughly: the job object, the caller's callback with its captures,
// and the strings it carries (added per job). On the safe side: the bounds need the order of
// magnitude, not precision.
constexpr size_t kJobOverhead = 512;

// The answer of a job that failed on its own: already decided, whatever the batch does.
template <typename Done>
std::function<void(const Status&)> answer_now(Done done, Error error) {
  return [done = std::move(done), error = std::move(error)](const Status&) { done(error); };
}

// The answer of a job whose changes are kept: @p answer once the batch committed, else the
// reason it did not (a conflict or a duplicate seen inside a batch that then failed may be an
// artefact of that batch).
template <typename Done, typename Answer>
std::function<void(const Status&)> after_commit(Done done, Answer answer) {
  return [done = std::move(done), answer = std::move(answer)](const Status& outcome) mutable {
    if (!outcome) return done(outcome.error());
    done(std::move(answer));
  };
}

Error stopping_error() {
  return make_error(Errc::unavailable, "storage is stopping");
}

}  // namespace

template <typename Done, typename Fn>
class SqliteStorage::FnWriteJob final : public WriteJob {
 public:
  FnWriteJob(Done done, Fn fn) : done_(std::move(done)), fn_(std::move(fn)) {}
  // fn_ may move done_ into the finish it returns: fail() is never called after apply().
  Applied apply(sqlite::Db& db) override { return fn_(db, done_); }
  void fail(const Error& error) override { done_(error); }

 private:
  Done done_;
  Fn fn_;
};

template <typename Done, typename Fn>
class SqliteStorage::FnReadJob final : public ReadJob {
 public:
  FnReadJob(Done done, Fn fn) : done_(std::move(done)), fn_(std::move(fn)) {}
  void run(sqlite::Db& db) override { done_(fn_(db)); }
  void fail(const Error& error) override { done_(error); }

 private:
  Done done_;
  Fn fn_;
};

SqliteStorage::SqliteStorage(SqliteOptions options, ClockPtr clock)
    : options_(std::move(options)),
      clock_(std::move(clock)),
      writer_db_(options_.path, false, options_.vfs),
      writes_(options_.write_queue_max_jobs, options_.write_queue_max_bytes),
      reads_(options_.read_queue_max_jobs, options_.read_queue_max_bytes) {
  writer_db_.exec_or_throw("PRAGMA journal_mode=WAL");
  writer_db_.exec_or_throw(options_.synchronous_full ? "PRAGMA synchronous=FULL"
                                                     : "PRAGMA synchronous=NORMAL");
  writer_db_.exec_or_throw("PRAGMA foreign_keys=ON");
  sqlite::migrate(writer_db_);
  reader_db_ = std::make_unique<sqlite::Db>(options_.path, false, options_.vfs);
  reader_db_->exec_or_throw("PRAGMA query_only=ON");
  sqlite::StmtRef s = writer_db_.prepare("SELECT value FROM meta WHERE key = 'epoch'");
  if (!s || s->step() != SQLITE_ROW) throw std::runtime_error("database has no epoch");
  epoch_ = s->text(0);
}

SqliteStorage::~SqliteStorage() {
  stop();
}

void SqliteStorage::start() {
  reader_ = std::thread([this] { reader_loop(); });
  writer_ = std::thread([this] { writer_loop(); });
}

void SqliteStorage::stop() {
  writes_.stop();
  if (writer_.joinable()) writer_.join();
  reads_.stop();  // after the writer: the callbacks of its last batch may still read
  if (reader_.joinable()) reader_.join();
  // Left only if the threads never ran: answer those jobs rather than drop their callbacks.
  for (auto& job : writes_.take_all()) job->fail(stopping_error());
  for (auto& job : reads_.take_all()) job->fail(stopping_error());
}

void SqliteStorage::on_committed(std::function<void(std::vector<Message>)> sink) {
  sink_ = std::move(sink);
}

Error SqliteStorage::refused(sqlite::Push why, const char* queue) {
  if (why == sqlite::Push::stopped) return stopping_error();
  uint64_t n = refused_.fetch_add(1, std::memory_order_relaxed) + 1;
  if (log_now(refused_logged_at_)) {
    spdlog::warn("storage {} queue full: {} jobs refused since start", queue, n);
  }
  return make_error(Errc::unavailable, "storage is overloaded, retry");
}

// ---- the writer: group commit -------------------------------------------------------------

template <typename Done, typename Fn>
void SqliteStorage::submit_write(size_t bytes, Done done, Fn apply) {
  std::unique_ptr<WriteJob> job =
      std::make_unique<FnWriteJob<Done, Fn>>(std::move(done), std::move(apply));
  sqlite::Push pushed = writes_.push(job, kJobOverhead + bytes);
  if (pushed != sqlite::Push::queued) job->fail(refused(pushed, "writer"));
}

void SqliteStorage::writer_loop() {
  std::vector<std::unique_ptr<WriteJob>> jobs;
  // Each pass takes everything that queued up while the previous batch committed.
  while (writes_.pop(jobs, options_.max_batch)) {
    run_batch(jobs);
    jobs.clear();
  }
}

Error SqliteStorage::write_failure(int rc, const char* what) {
  // A full disk fails every batch until space is freed: one line a second is enough.
  if (log_now(failure_logged_at_)) {
    spdlog::error("sqlite {} failed: {} (code {}): {}; the batch is answered unavailable", what,
                  sqlite3_errstr(rc), rc, writer_db_.last_error());
  }
  return make_error(Errc::unavailable, std::string("storage ") + what + " failed (" +
                                           sqlite3_errstr(rc) + "); nothing was stored, retry");
}

// Every answer of a batch depends on its commit: a job is answered success only if COMMIT
// returned SQLITE_OK, and if anything breaks the transaction, no job of the batch is.
void SqliteStorage::run_batch(std::vector<std::unique_ptr<WriteJob>>& jobs) {
  std::vector<std::function<void(const Status&)>> finishes;  // of jobs[0, size), in order
  finishes.reserve(jobs.size());
  committed_.clear();
  Status outcome = begin_batch();
  for (size_t i = 0; outcome && i < jobs.size(); ++i) outcome = apply_job(*jobs[i], finishes);
  int64_t commit_ns = 0;
  if (outcome) {
    int64_t start = monotonic_ns();
    int rc = writer_db_.exec("COMMIT");  // the fsync of the WAL, with synchronous=FULL
    commit_ns = monotonic_ns() - start;
    if (rc != SQLITE_OK) outcome = write_failure(rc, "commit");
  }
  if (outcome) {
    count(Metrics::global().commits_total);
    Metrics::global().storage_commit_seconds.observe(static_cast<uint64_t>(commit_ns));
  } else {
    abandon_batch();
  }
  // In queue order: the jobs that were applied, then those the batch never reached.
  for (auto& finish : finishes) {
    if (finish) finish(outcome);
  }
  for (size_t i = finishes.size(); i < jobs.size(); ++i) jobs[i]->fail(outcome.error());
  if (outcome && !committed_.empty() && sink_) {
    count(Metrics::global().messages_appended_total, committed_.size());
    sink_(std::move(committed_));
    committed_ = {};
  }
}

Status SqliteStorage::begin_batch() {
  // A transaction still open here is one whose ROLLBACK failed after an earlier failure: end
  // it first, or every BEGIN from now on would fail.
  if (!writer_db_.autocommit()) {
    int rc = writer_db_.exec("ROLLBACK");
    if (rc != SQLITE_OK) return write_failure(rc, "rollback of an earlier batch");
  }
  // The only writer, so BEGIN IMMEDIATE fails only if the disk or the file does (the busy
  // timeout covers a passing lock). The jobs are then answered, never run outside a transaction.
  int rc = writer_db_.exec("BEGIN IMMEDIATE");
  if (rc != SQLITE_OK) return write_failure(rc, "begin");
  return Ok{};
}

Status SqliteStorage::apply_job(WriteJob& job,
                                std::vector<std::function<void(const Status&)>>& finishes) {
  int rc = writer_db_.exec("SAVEPOINT job");
  if (rc != SQLITE_OK) return write_failure(rc, "savepoint");
  size_t mark = committed_.size();
  Applied applied = job.apply(writer_db_);
  finishes.push_back(std::move(applied.finish));
  // After SQLITE_FULL, SQLITE_IOERR or SQLITE_NOMEM, SQLite may roll the whole transaction back
  // by itself. Then the batch so far is gone, and the next SAVEPOINT would open a transaction of
  // its own that the next RELEASE commits: later jobs would be stored one by one, outside the
  // batch, while COMMIT fails. Stop here instead.
  if (writer_db_.autocommit()) {
    return write_failure(sqlite3_extended_errcode(writer_db_.raw()), "transaction");
  }
  if (!applied.ok) {
    rc = writer_db_.exec("ROLLBACK TO job");
    if (rc != SQLITE_OK) return write_failure(rc, "rollback to savepoint");
    // Its in-memory effects go with its rows; the heads of its rooms are read again.
    for (size_t i = mark; i < committed_.size(); ++i) heads_.erase(committed_[i].room);
    committed_.erase(committed_.begin() + static_cast<std::ptrdiff_t>(mark), committed_.end());
  }
  rc = writer_db_.exec("RELEASE job");
  if (rc != SQLITE_OK) return write_failure(rc, "release savepoint");
  return Ok{};
}

void SqliteStorage::abandon_batch() {
  // Unless SQLite already rolled back on its own (or COMMIT did), roll back here. If even that
  // fails, begin_batch tries again before the next batch.
  if (!writer_db_.autocommit()) {
    int rc = writer_db_.exec("ROLLBACK");
    if (rc != SQLITE_OK) {
      spdlog::error("sqlite rollback failed: {}: {}", sqlite3_errstr(rc), writer_db_.last_error());
    }
  }
  // The cached heads may count seqs of the rolled-back messages: read them again from the log,
  // so the next batch neither skips nor reuses a seq. Nothing of the batch is published.
  heads_.clear();
  committed_.clear();
}

Result<int64_t> SqliteStorage::room_head(sqlite::Db& db, const std::string& room) {
  auto it = heads_.find(room);
  if (it != heads_.end()) return it->second;
  sqlite::StmtRef s = db.prepare(kSelectHead);
  if (!s || s->bind(1, room).step() != SQLITE_ROW) return db_error(db, "head");
  int64_t head = s->int64(0);
  heads_.emplace(room, head);
  return head;
}

std::string SqliteStorage::new_msg_id() {
  static const char* hex = "0123456789abcdef";
  std::string id(20, '0');
  uint64_t a = rng_(), b = rng_();
  for (int i = 0; i < 16; ++i) id[i] = hex[(a >> (i * 4)) & 15];
  for (int i = 16; i < 20; ++i) id[i] = hex[(b >> ((i - 16) * 4)) & 15];
  return id;
}

// The last moment to give up: once claimed, the command completes even if the commit ends
// after its deadline; if the deadline won, it is never applied. A claim is kept if the batch
// then fails: the command is answered `unavailable`, and the timer must not answer it again.
bool SqliteStorage::expired_before_applied(const DeadlinePtr& deadline) const {
  return !claim_deadline(deadline, clock_->steady_ms());
}

SqliteStorage::Applied SqliteStorage::apply_append(sqlite::Db& db, AppendRequest& req,
                                                   std::function<void(Result<Appended>)>& done) {
  auto fail = [&](Error e) { return Applied{false, answer_now(std::move(done), std::move(e))}; };
  if (expired_before_applied(req.deadline)) return fail(expired_error());
  if (!req.client_msg_id.empty()) {
    sqlite::StmtRef s = db.prepare(kSelectByClientId);
    if (!s) return fail(db_error(db, "prepare"));
    int rc = s->bind(1, req.room).bind(2, req.from).bind(3, req.client_msg_id).step();
    if (rc == SQLITE_ROW) {
      return Applied{true, after_commit(std::move(done), Appended{row_message(*s), true})};
    }
    if (rc != SQLITE_DONE) return fail(db_error(db, "select client_msg_id"));
  }
  auto head = room_head(db, req.room);
  if (!head) return fail(head.error());
  Message m{req.room,         *head + 1,        new_msg_id(), req.from, std::move(req.text),
            clock_->now_ms(), req.client_msg_id};
  sqlite::StmtRef ins = db.prepare(kInsertMessage);
  if (!ins) return fail(db_error(db, "prepare"));
  ins->bind(1, m.room)
      .bind(2, m.seq)
      .bind(3, m.msg_id)
      .bind(4, m.from)
      .bind(5, m.text)
      .bind(6, m.ts);
  if (m.client_msg_id.empty()) {
    ins->bind_null(7);
  } else {
    ins->bind(7, m.client_msg_id);
  }
  if (ins->step() != SQLITE_DONE) return fail(db_error(db, "insert message"));
  heads_[m.room] = m.seq;
  committed_.push_back(m);
  return Applied{true, after_commit(std::move(done), Appended{std::move(m), false})};
}

void SqliteStorage::append(AppendRequest request, std::function<void(Result<Appended>)> done) {
  size_t bytes = request.room.size() + request.from.size() + request.text.size() +
                 request.client_msg_id.size();
  submit_write(bytes, std::move(done),
               [this, req = std::move(request)](sqlite::Db& db, auto& done) mutable {
                 return apply_append(db, req, done);
               });
}

void SqliteStorage::on_change(std::function<void(const RoomChange&)> sink) {
  room_sink_ = std::move(sink);
}

std::function<void(Status)> SqliteStorage::feed_then(RoomChange change,
                                                     std::function<void(Status)> done) {
  return [this, change = std::move(change), done = std::move(done)](Status st) {
    if (st && room_sink_) room_sink_(change);
    done(std::move(st));
  };
}

void SqliteStorage::create_room(Room room, bool if_absent, DeadlinePtr deadline,
                                std::function<void(Status)> done) {
  size_t bytes = room.name.size() + room.created_by.size();
  for (const auto& user : room.members) bytes += user.size() + 64;  // + the set's node
  // `feed` announces the change only if this job made it; `done` alone answers otherwise.
  auto feed = feed_then(RoomChange::created(room), done);
  submit_write(
      bytes * 2, std::move(done),
      [this, room = std::move(room), if_absent, deadline = std::move(deadline),
       feed = std::move(feed)](sqlite::Db& db, auto& done) mutable {
        if (expired_before_applied(deadline)) {
          return Applied{false, answer_now(std::move(done), expired_error())};
        }
        sqlite::StmtRef s = db.prepare(
            "INSERT INTO rooms(name, kind, created_by, created_at) "
            "VALUES (?1, ?2, ?3, ?4) ON CONFLICT(name) DO NOTHING");
        if (!s || s->bind(1, room.name)
                          .bind(2, room_kind_name(room.kind))
                          .bind(3, room.created_by)
                          .bind(4, room.created_at)
                          .step() != SQLITE_DONE) {
          return Applied{false, answer_now(std::move(done), db_error(db, "insert room"))};
        }
        if (sqlite3_changes(db.raw()) == 0) {
          Status st = if_absent ? Status(Ok{})
                                : Status(make_error(Errc::conflict, "room exists: " + room.name));
          return Applied{true, after_commit(std::move(done), st)};
        }
        for (const auto& user : room.members) {
          sqlite::StmtRef m =
              db.prepare("INSERT OR IGNORE INTO members(room, user) VALUES (?1, ?2)");
          if (!m || m->bind(1, room.name).bind(2, user).step() != SQLITE_DONE) {
            return Applied{false, answer_now(std::move(done), db_error(db, "insert member"))};
          }
        }
        return Applied{true, after_commit(std::move(feed), Ok{})};
      });
}

void SqliteStorage::add_member(std::string room, std::string user, std::string /*invited_by*/,
                               DeadlinePtr deadline, std::function<void(Status)> done) {
  size_t bytes = room.size() + user.size();
  // The change feed names the room only; the directory already knows its kind.
  done = feed_then(RoomChange::added(room, user), std::move(done));
  submit_write(
      bytes, std::move(done),
      [this, room = std::move(room), user = std::move(user), deadline = std::move(deadline)](
          sqlite::Db& db, auto& done) mutable {
        if (expired_before_applied(deadline)) {
          return Applied{false, answer_now(std::move(done), expired_error())};
        }
        sqlite::StmtRef m = db.prepare("INSERT OR IGNORE INTO members(room, user) VALUES (?1, ?2)");
        if (!m || m->bind(1, room).bind(2, user).step() != SQLITE_DONE) {
          return Applied{false, answer_now(std::move(done), db_error(db, "insert member"))};
        }
        return Applied{true, after_commit(std::move(done), Ok{})};
      });
}

void SqliteStorage::create_user(std::string name, std::string password_hash,
                                std::function<void(Status)> done) {
  int64_t now = clock_->now_ms();
  size_t bytes = name.size() + password_hash.size();
  submit_write(bytes, std::move(done),
               [name = std::move(name), hash = std::move(password_hash), now](sqlite::Db& db,
                                                                              auto& done) mutable {
                 sqlite::StmtRef s = db.prepare(
                     "INSERT INTO users(name, password_hash, created_at) VALUES (?1, ?2, ?3) "
                     "ON CONFLICT(name) DO NOTHING");
                 if (!s || s->bind(1, name).bind(2, hash).bind(3, now).step() != SQLITE_DONE) {
                   return Applied{false, answer_now(std::move(done), db_error(db, "insert user"))};
                 }
                 Status st = sqlite3_changes(db.raw()) == 0
                                 ? Status(make_error(Errc::conflict, "user exists: " + name))
                                 : Status(Ok{});
                 return Applied{true, after_commit(std::move(done), st)};
               });
}

void SqliteStorage::record(DeadLetter letter) {
  size_t bytes = letter.session.size() + letter.user.size() + letter.op.size() +
                 letter.payload.size() + letter.reason.size();
  // Fire and forget for the caller: a letter that is not stored is at least logged.
  std::function<void(Status)> logged = [](const Status& st) {
    static std::atomic<int64_t> logged_at{0};
    if (!st && log_now(logged_at)) spdlog::warn("dead letter not recorded: {}", st.error().message);
  };
  submit_write(bytes, std::move(logged), [letter = std::move(letter)](sqlite::Db& db, auto& done) {
    sqlite::StmtRef s = db.prepare(
        "INSERT INTO dead_letters(session, user, op, payload, reason, at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    if (!s || s->bind(1, letter.session)
                      .bind(2, letter.user)
                      .bind(3, letter.op)
                      .bind(4, letter.payload)
                      .bind(5, letter.reason)
                      .bind(6, letter.at_ms)
                      .step() != SQLITE_DONE) {
      return Applied{false, answer_now(std::move(done), db_error(db, "insert dead letter"))};
    }
    return Applied{true, [done = std::move(done)](const Status& outcome) {
                     if (outcome) count(Metrics::global().dead_letters_total);
                     done(outcome);
                   }};
  });
}

// ---- the reader ---------------------------------------------------------------------------

template <typename R, typename Fn>
void SqliteStorage::submit_read(size_t bytes, std::function<void(R)> done, Fn read) {
  std::unique_ptr<ReadJob> job =
      std::make_unique<FnReadJob<std::function<void(R)>, Fn>>(std::move(done), std::move(read));
  sqlite::Push pushed = reads_.push(job, kJobOverhead + bytes);
  if (pushed != sqlite::Push::queued) job->fail(refused(pushed, "reader"));
}

void SqliteStorage::reader_loop() {
  std::vector<std::unique_ptr<ReadJob>> jobs;
  // One at a time: a job taken off the queue no longer counts against its bound.
  while (reads_.pop(jobs, 1)) {
    for (auto& job : jobs) job->run(*reader_db_);
    jobs.clear();
  }
}

Result<Page> SqliteStorage::read_page(const char* sql, const std::string& room, int64_t bound,
                                      int limit) {
  // One row more than asked tells whether there is more.
  sqlite::StmtRef s = reader_db_->prepare(sql);
  if (!s) return db_error(*reader_db_, "prepare");
  s->bind(1, room).bind(2, bound).bind(3, static_cast<int64_t>(limit) + 1);
  Page page;
  int rc;
  while ((rc = s->step()) == SQLITE_ROW) page.messages.push_back(row_message(*s));
  if (rc != SQLITE_DONE) return db_error(*reader_db_, "read messages");
  if (page.messages.size() > static_cast<size_t>(limit)) {
    page.messages.pop_back();
    page.has_more = true;
  }
  return page;
}

void SqliteStorage::read_after(std::string room, int64_t after, int limit,
                               std::function<void(Result<Page>)> done) {
  size_t bytes = room.size();
  submit_read(bytes, std::move(done), [this, room = std::move(room), after, limit](sqlite::Db&) {
    return read_page(kSelectAfter, room, after, limit);
  });
}

void SqliteStorage::read_before(std::string room, int64_t before, int limit,
                                std::function<void(Result<Page>)> done) {
  size_t bytes = room.size();
  submit_read(bytes, std::move(done), [this, room = std::move(room), before, limit](sqlite::Db&) {
    auto page = read_page(kSelectBefore, room, before > 0 ? before : INT64_MAX, limit);
    if (page) std::reverse(page->messages.begin(), page->messages.end());  // oldest first
    return page;
  });
}

void SqliteStorage::head(std::string room, std::function<void(Result<int64_t>)> done) {
  size_t bytes = room.size();
  submit_read(bytes, std::move(done), [room = std::move(room)](sqlite::Db& db) -> Result<int64_t> {
    sqlite::StmtRef s = db.prepare(kSelectHead);
    if (!s || s->bind(1, room).step() != SQLITE_ROW) return db_error(db, "head");
    return s->int64(0);
  });
}

void SqliteStorage::find_user(std::string name,
                              std::function<void(Result<std::optional<std::string>>)> done) {
  size_t bytes = name.size();
  submit_read(bytes, std::move(done),
              [name = std::move(name)](sqlite::Db& db) -> Result<std::optional<std::string>> {
                sqlite::StmtRef s = db.prepare("SELECT password_hash FROM users WHERE name = ?1");
                if (!s) return db_error(db, "prepare");
                int rc = s->bind(1, name).step();
                if (rc == SQLITE_ROW) return std::optional<std::string>(s->text(0));
                if (rc == SQLITE_DONE) return std::optional<std::string>();
                return db_error(db, "find user");
              });
}

std::vector<Room> SqliteStorage::load_rooms() {
  // Start-up only, so it throws; and a read that stops early must not pass for every room.
  std::unordered_map<std::string, Room> rooms;
  sqlite::StmtRef s = writer_db_.prepare("SELECT name, kind, created_by, created_at FROM rooms");
  if (!s) throw std::runtime_error(std::string("load rooms: ") + writer_db_.last_error());
  int rc;
  while ((rc = s->step()) == SQLITE_ROW) {
    rooms[s->text(0)] = Room{s->text(0), room_kind_of(s->text(1)), s->text(2), s->int64(3), {}};
  }
  if (rc != SQLITE_DONE)
    throw std::runtime_error(std::string("load rooms: ") + writer_db_.last_error());
  sqlite::StmtRef m = writer_db_.prepare("SELECT room, user FROM members");
  if (!m) throw std::runtime_error(std::string("load members: ") + writer_db_.last_error());
  while ((rc = m->step()) == SQLITE_ROW) {
    auto it = rooms.find(m->text(0));
    if (it != rooms.end()) it->second.members.insert(m->text(1));
  }
  if (rc != SQLITE_DONE) {
    throw std::runtime_error(std::string("load members: ") + writer_db_.last_error());
  }
  std::vector<Room> out;
  for (auto& [name, room] : rooms) out.push_back(std::move(room));
  return out;
}

}  // namespace parley
