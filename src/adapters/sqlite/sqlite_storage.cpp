#include "adapters/sqlite/sqlite_storage.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "adapters/sqlite/migrations.h"
#include "app/metrics.h"

namespace parley {
namespace {

Error db_error(sqlite::Db& db, const char* what) {
  spdlog::error("sqlite {}: {}", what, db.last_error());
  return make_error(Errc::unavailable, std::string("storage error: ") + what);
}

const char* kind_name(RoomKind k) {
  switch (k) {
    case RoomKind::public_room:
      return "public";
    case RoomKind::private_room:
      return "private";
    case RoomKind::direct:
      return "dm";
  }
  return "public";
}

RoomKind kind_of(const std::string& s) {
  if (s == "private") return RoomKind::private_room;
  if (s == "dm") return RoomKind::direct;
  return RoomKind::public_room;
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

}  // namespace

SqliteStorage::SqliteStorage(SqliteOptions options, ClockPtr clock)
    : options_(std::move(options)), clock_(std::move(clock)), writer_db_(options_.path, false) {
  writer_db_.exec_or_throw("PRAGMA journal_mode=WAL");
  writer_db_.exec_or_throw(options_.synchronous_full ? "PRAGMA synchronous=FULL"
                                                     : "PRAGMA synchronous=NORMAL");
  writer_db_.exec_or_throw("PRAGMA foreign_keys=ON");
  sqlite::migrate(writer_db_);
  reader_db_ = std::make_unique<sqlite::Db>(options_.path, false);
  reader_db_->exec_or_throw("PRAGMA query_only=ON");
  sqlite::StmtRef s = writer_db_.prepare("SELECT value FROM meta WHERE key = 'epoch'");
  if (!s || s->step() != SQLITE_ROW) throw std::runtime_error("database has no epoch");
  epoch_ = s->text(0);
}

SqliteStorage::~SqliteStorage() {
  stop();
}

void SqliteStorage::start() {
  reader_.start();
  writer_ = std::thread([this] { writer_loop(); });
}

void SqliteStorage::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_one();
  if (writer_.joinable()) writer_.join();
  reader_.stop();
}

void SqliteStorage::on_committed(std::function<void(std::vector<Message>)> sink) {
  sink_ = std::move(sink);
}

// ---- the writer: group commit -------------------------------------------------------------

void SqliteStorage::submit(WriteJob job) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(job));
  }
  cv_.notify_one();
}

void SqliteStorage::writer_loop() {
  std::vector<WriteJob> jobs;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      // Take everything that queued up while the previous batch committed.
      size_t n = std::min(queue_.size(), options_.max_batch);
      for (size_t i = 0; i < n; ++i) {
        jobs.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    run_batch(jobs);
    jobs.clear();
  }
}

void SqliteStorage::run_batch(std::vector<WriteJob>& jobs) {
  std::vector<std::function<void(bool)>> finishes;
  finishes.reserve(jobs.size());
  committed_.clear();
  // The only writer: BEGIN IMMEDIATE fails only if the disk or the file does. Retry briefly;
  // if storage stays unusable, stop rather than run the jobs outside a transaction.
  bool began = false;
  for (int attempt = 0; attempt < 50 && !began; ++attempt) {
    began = writer_db_.exec("BEGIN IMMEDIATE") == SQLITE_OK;
    if (!began) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (!began) {
    spdlog::critical("sqlite: cannot begin a transaction: {}", writer_db_.last_error());
    std::abort();
  }
  for (auto& job : jobs) {
    writer_db_.exec("SAVEPOINT job");
    Applied applied = job(writer_db_);
    if (!applied.ok) writer_db_.exec("ROLLBACK TO job");
    writer_db_.exec("RELEASE job");
    finishes.push_back(std::move(applied.finish));
  }
  bool committed = writer_db_.exec("COMMIT") == SQLITE_OK;
  if (!committed) {
    spdlog::error("sqlite commit failed: {}", writer_db_.last_error());
    writer_db_.exec("ROLLBACK");
    heads_.clear();  // the cached seqs may count rolled-back messages
    committed_.clear();
  }
  count(Metrics::global().commits_total);
  for (auto& finish : finishes) {
    if (finish) finish(committed);
  }
  if (committed && !committed_.empty() && sink_) {
    count(Metrics::global().messages_appended_total, committed_.size());
    sink_(std::move(committed_));
    committed_ = {};
  }
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

SqliteStorage::Applied SqliteStorage::apply_append(sqlite::Db& db, AppendRequest& req,
                                                   std::function<void(Result<Appended>)>& done) {
  auto fail = [&](Error e) {
    return Applied{false, [done = std::move(done), e](bool) { done(e); }};
  };
  // The last moment to give up: once claimed, the command completes even if the commit ends
  // after its deadline; if the deadline won, it is never applied.
  if (req.deadline && !req.deadline->claim(clock_->steady_ms())) {
    return fail(make_error(Errc::timeout, "the command expired before it could be applied"));
  }
  if (!req.client_msg_id.empty()) {
    sqlite::StmtRef s = db.prepare(kSelectByClientId);
    if (!s) return fail(db_error(db, "prepare"));
    int rc = s->bind(1, req.room).bind(2, req.from).bind(3, req.client_msg_id).step();
    if (rc == SQLITE_ROW) {
      Appended first{row_message(*s), true};
      return Applied{true, [done = std::move(done), first](bool committed) {
                       if (!committed) return done(make_error(Errc::unavailable, "commit failed"));
                       done(first);
                     }};
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
  return Applied{true, [done = std::move(done), m = std::move(m)](bool committed) mutable {
                   if (!committed) return done(make_error(Errc::unavailable, "commit failed"));
                   done(Appended{std::move(m), false});
                 }};
}

void SqliteStorage::append(AppendRequest request, std::function<void(Result<Appended>)> done) {
  submit([this, req = std::move(request), done = std::move(done)](sqlite::Db& db) mutable {
    return apply_append(db, req, done);
  });
}

// Completion of a write job that only reports success or failure.
static std::function<void(bool)> status_finish(std::function<void(Status)> done, Status st) {
  return [done = std::move(done), st = std::move(st)](bool committed) {
    if (!st) return done(st.error());
    if (!committed) return done(make_error(Errc::unavailable, "commit failed"));
    done(Ok{});
  };
}

void SqliteStorage::create_room(Room room, bool if_absent, std::function<void(Status)> done) {
  submit([room = std::move(room), if_absent, done = std::move(done)](sqlite::Db& db) mutable {
    sqlite::StmtRef s = db.prepare(
        "INSERT INTO rooms(name, kind, created_by, created_at) VALUES (?1, ?2, ?3, ?4) "
        "ON CONFLICT(name) DO NOTHING");
    if (!s || s->bind(1, room.name)
                      .bind(2, kind_name(room.kind))
                      .bind(3, room.created_by)
                      .bind(4, room.created_at)
                      .step() != SQLITE_DONE) {
      return Applied{false, status_finish(std::move(done), db_error(db, "insert room"))};
    }
    if (sqlite3_changes(db.raw()) == 0) {
      Status st = if_absent ? Status(Ok{})
                            : Status(make_error(Errc::conflict, "room exists: " + room.name));
      return Applied{true, status_finish(std::move(done), st)};
    }
    for (const auto& user : room.members) {
      sqlite::StmtRef m = db.prepare("INSERT OR IGNORE INTO members(room, user) VALUES (?1, ?2)");
      if (!m || m->bind(1, room.name).bind(2, user).step() != SQLITE_DONE) {
        return Applied{false, status_finish(std::move(done), db_error(db, "insert member"))};
      }
    }
    return Applied{true, status_finish(std::move(done), Ok{})};
  });
}

void SqliteStorage::add_member(std::string room, std::string user,
                               std::function<void(Status)> done) {
  submit([room = std::move(room), user = std::move(user),
          done = std::move(done)](sqlite::Db& db) mutable {
    sqlite::StmtRef m = db.prepare("INSERT OR IGNORE INTO members(room, user) VALUES (?1, ?2)");
    if (!m || m->bind(1, room).bind(2, user).step() != SQLITE_DONE) {
      return Applied{false, status_finish(std::move(done), db_error(db, "insert member"))};
    }
    return Applied{true, status_finish(std::move(done), Ok{})};
  });
}

void SqliteStorage::create_user(std::string name, std::string password_hash,
                                std::function<void(Status)> done) {
  int64_t now = clock_->now_ms();
  submit([name = std::move(name), hash = std::move(password_hash), now,
          done = std::move(done)](sqlite::Db& db) mutable {
    sqlite::StmtRef s = db.prepare(
        "INSERT INTO users(name, password_hash, created_at) VALUES (?1, ?2, ?3) "
        "ON CONFLICT(name) DO NOTHING");
    if (!s || s->bind(1, name).bind(2, hash).bind(3, now).step() != SQLITE_DONE) {
      return Applied{false, status_finish(std::move(done), db_error(db, "insert user"))};
    }
    Status st = sqlite3_changes(db.raw()) == 0
                    ? Status(make_error(Errc::conflict, "user exists: " + name))
                    : Status(Ok{});
    return Applied{true, status_finish(std::move(done), st)};
  });
}

void SqliteStorage::record(DeadLetter letter) {
  submit([letter = std::move(letter)](sqlite::Db& db) {
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
      db_error(db, "insert dead letter");
      return Applied{false, {}};
    }
    count(Metrics::global().dead_letters_total);
    return Applied{true, {}};
  });
}

// ---- the reader ---------------------------------------------------------------------------

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
  reader_.post([this, room = std::move(room), after, limit, done = std::move(done)] {
    done(read_page(kSelectAfter, room, after, limit));
  });
}

void SqliteStorage::read_before(std::string room, int64_t before, int limit,
                                std::function<void(Result<Page>)> done) {
  reader_.post([this, room = std::move(room), before, limit, done = std::move(done)] {
    auto page = read_page(kSelectBefore, room, before > 0 ? before : INT64_MAX, limit);
    if (page) std::reverse(page->messages.begin(), page->messages.end());  // oldest first
    done(std::move(page));
  });
}

void SqliteStorage::head(std::string room, std::function<void(Result<int64_t>)> done) {
  reader_.post([this, room = std::move(room), done = std::move(done)] {
    sqlite::StmtRef s = reader_db_->prepare(kSelectHead);
    if (!s || s->bind(1, room).step() != SQLITE_ROW) return done(db_error(*reader_db_, "head"));
    done(s->int64(0));
  });
}

void SqliteStorage::find_user(std::string name,
                              std::function<void(Result<std::optional<std::string>>)> done) {
  reader_.post([this, name = std::move(name), done = std::move(done)] {
    sqlite::StmtRef s = reader_db_->prepare("SELECT password_hash FROM users WHERE name = ?1");
    if (!s) return done(db_error(*reader_db_, "prepare"));
    int rc = s->bind(1, name).step();
    if (rc == SQLITE_ROW) return done(std::optional<std::string>(s->text(0)));
    if (rc == SQLITE_DONE) return done(std::optional<std::string>());
    done(db_error(*reader_db_, "find user"));
  });
}

std::vector<Room> SqliteStorage::load_rooms() {
  std::unordered_map<std::string, Room> rooms;
  sqlite::StmtRef s = writer_db_.prepare("SELECT name, kind, created_by, created_at FROM rooms");
  if (!s) throw std::runtime_error(std::string("load rooms: ") + writer_db_.last_error());
  while (s->step() == SQLITE_ROW) {
    rooms[s->text(0)] = Room{s->text(0), kind_of(s->text(1)), s->text(2), s->int64(3), {}};
  }
  sqlite::StmtRef m = writer_db_.prepare("SELECT room, user FROM members");
  if (!m) throw std::runtime_error(std::string("load members: ") + writer_db_.last_error());
  while (m->step() == SQLITE_ROW) {
    auto it = rooms.find(m->text(0));
    if (it != rooms.end()) it->second.members.insert(m->text(1));
  }
  std::vector<Room> out;
  for (auto& [name, room] : rooms) out.push_back(std::move(room));
  return out;
}

}  // namespace parley
