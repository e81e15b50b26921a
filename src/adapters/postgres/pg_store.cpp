#include "adapters/postgres/pg_store.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>
#include <unordered_map>

#include "adapters/postgres/pg_migrations.h"

namespace parley {
namespace {

using pg::Params;
using pg::Statement;
using pg::TextArray;

// ---- statements ---------------------------------------------------------------------------

constexpr Statement kFindUser{"find_user", "SELECT password_hash FROM users WHERE name = $1", true};
constexpr Statement kCreateUser{
    "create_user",
    "INSERT INTO users(name, password_hash) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING"};
constexpr Statement kRecordDeadLetter{
    "record_dead_letter",
    "INSERT INTO dead_letters(source, session, \"user\", op, payload, reason, at_ms) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (source) DO NOTHING"};

// One statement per page, so the page and the offset come from one snapshot. The outer LEFT
// JOIN yields one row even when the page is empty, to carry partition and offset.
// $1 room, $2 bound, $3 limit + 1 (one more tells has_more), $4 topic, $5 the room's partition
// (-1: the one the rooms table has). A reader that knows the partition passes it: a room
// PostgreSQL has never seen still has a persisted offset, the one of its partition.
constexpr Statement kReadAfter{"read_after", R"sql(
WITH r AS (SELECT partition FROM rooms WHERE name = $1),
m AS (SELECT seq, msg_id, sender, text, ts, client_msg_id FROM messages
      WHERE room = $1 AND seq > $2 ORDER BY seq ASC LIMIT $3)
SELECT coalesce((SELECT partition FROM r), $5::int),
       coalesce((SELECT next_offset FROM log_offsets
                 WHERE topic = $4 AND partition = CASE WHEN $5::int >= 0 THEN $5::int
                                                       ELSE (SELECT partition FROM r) END), 0),
       m.seq, m.msg_id, m.sender, m.text, m.ts, m.client_msg_id
FROM (VALUES (1)) AS one(x) LEFT JOIN m ON true ORDER BY m.seq ASC)sql",
                               true};
constexpr Statement kReadBefore{"read_before", R"sql(
WITH r AS (SELECT partition FROM rooms WHERE name = $1),
m AS (SELECT seq, msg_id, sender, text, ts, client_msg_id FROM messages
      WHERE room = $1
        AND seq < CASE WHEN $2::bigint = 0 THEN 9223372036854775807 ELSE $2::bigint END
      ORDER BY seq DESC LIMIT $3)
SELECT coalesce((SELECT partition FROM r), $5::int),
       coalesce((SELECT next_offset FROM log_offsets
                 WHERE topic = $4 AND partition = CASE WHEN $5::int >= 0 THEN $5::int
                                                       ELSE (SELECT partition FROM r) END), 0),
       m.seq, m.msg_id, m.sender, m.text, m.ts, m.client_msg_id
FROM (VALUES (1)) AS one(x) LEFT JOIN m ON true ORDER BY m.seq ASC)sql",
                                true};

constexpr Statement kPersistedOffsets{
    "persisted_offsets", "SELECT partition, next_offset FROM log_offsets WHERE topic = $1", true};
constexpr Statement kKnownPartitions{
    "known_partitions",
    "SELECT partition FROM rooms UNION SELECT partition FROM log_offsets WHERE topic = $1"};
constexpr Statement kSnapshotOffsets{"snapshot_offsets",
                                     "SELECT partition, next_offset FROM log_offsets WHERE topic = "
                                     "$1 AND partition = ANY($2::int[])"};
constexpr Statement kSnapshotRooms{
    "snapshot_rooms",
    "SELECT name, kind, created_by, created_at, partition, last_seq FROM rooms "
    "WHERE partition = ANY($1::int[])"};
constexpr Statement kSnapshotMembers{
    "snapshot_members",
    "SELECT m.room, m.\"user\" FROM members m JOIN rooms r ON r.name = m.room "
    "WHERE r.partition = ANY($1::int[])"};
// $1 partitions, $2 their next offsets, $3 the window.
constexpr Statement kSnapshotWindow{"snapshot_window", R"sql(
SELECT m.partition, m.room, m.sender, m.client_msg_id, m.seq, m.msg_id, m.ts
FROM unnest($1::int[], $2::bigint[]) AS w(partition, next_offset)
JOIN messages m ON m.partition = w.partition AND m.seq > w.next_offset - $3::bigint
WHERE m.client_msg_id IS NOT NULL
ORDER BY m.partition, m.seq)sql"};

// The persister's batch: one multi-row statement per table (unnest of array parameters).
constexpr Statement kPersistRooms{"persist_rooms", R"sql(
INSERT INTO rooms(name, kind, created_by, created_at, partition)
SELECT * FROM unnest($1::text[], $2::smallint[], $3::text[], $4::bigint[], $5::int[])
ON CONFLICT (name) DO NOTHING)sql"};
constexpr Statement kPersistMembers{"persist_members", R"sql(
INSERT INTO members(room, "user") SELECT * FROM unnest($1::text[], $2::text[])
ON CONFLICT DO NOTHING)sql"};
constexpr Statement kPersistMessages{"persist_messages", R"sql(
INSERT INTO messages(room, seq, msg_id, sender, text, ts, client_msg_id, partition)
SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::bigint[],
                     $7::text[], $8::int[])
ON CONFLICT DO NOTHING)sql"};
constexpr Statement kPersistHeads{"persist_heads", R"sql(
UPDATE rooms SET last_seq = v.seq FROM unnest($1::text[], $2::bigint[]) AS v(name, seq)
WHERE rooms.name = v.name AND rooms.last_seq < v.seq)sql"};
constexpr Statement kPersistDeadLetters{"persist_dead_letters", R"sql(
INSERT INTO dead_letters(source, session, "user", op, payload, reason, at_ms)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                     $7::bigint[])
ON CONFLICT (source) DO NOTHING)sql"};
// The offsets a batch moves, compare-and-set: a partition moves from `from` to `to` only if
// PostgreSQL still says `from`. A persister that lost the partition (a rebalance, a pause
// longer than the session timeout) and writes late finds another owner's offset there, matches
// nothing, and its whole transaction is rolled back: no offset ever moves past a record that
// its writer did not store. The rows are made first (at 0) so that the UPDATE has a row to
// lock, and two owners of a fresh partition serialise on it.
// $1 topic, $2 partitions (sorted: rows are locked in one order), $3 from, $4 to.
constexpr Statement kEnsureOffsets{"ensure_offsets", R"sql(
INSERT INTO log_offsets(topic, partition, next_offset)
SELECT $1, p, 0 FROM unnest($2::int[]) AS v(p)
ON CONFLICT (topic, partition) DO NOTHING)sql"};
constexpr Statement kAdvanceOffsets{"advance_offsets", R"sql(
UPDATE log_offsets o SET next_offset = v.t
FROM unnest($2::int[], $3::bigint[], $4::bigint[]) AS v(p, f, t)
WHERE o.topic = $1 AND o.partition = v.p AND o.next_offset = v.f
RETURNING o.partition)sql"};

constexpr Statement kInsertSetting{
    "insert_setting",
    "INSERT INTO settings(key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING", true};
constexpr Statement kSelectSetting{"select_setting", "SELECT value FROM settings WHERE key = $1",
                                   true};

// ---- helpers ------------------------------------------------------------------------------

// What a queued job holds, roughly (the job, its callback and captures); strings are added.
constexpr size_t kJobOverhead = 512;

int64_t kind_code(RoomKind k) {
  switch (k) {
    case RoomKind::public_room:
      return 0;
    case RoomKind::private_room:
      return 1;
    case RoomKind::direct:
      return 2;
  }
  return 0;
}

RoomKind kind_of(int64_t code) {
  if (code == 1) return RoomKind::private_room;
  if (code == 2) return RoomKind::direct;
  return RoomKind::public_room;
}

bool log_now(std::atomic<int64_t>& last) {
  int64_t now = pg::steady_ms();
  int64_t prev = last.load(std::memory_order_relaxed);
  return now - prev >= 1000 && last.compare_exchange_strong(prev, now);
}

std::string int_array(const std::vector<int32_t>& v) {
  TextArray a;
  for (int32_t x : v) a.add(int64_t{x});
  return a.take();
}

Status run(pg::Connection& c, const Statement& s, const Params& p) {
  auto r = c.exec(s, p);
  if (!r) return r.error();
  return Ok{};
}

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

// ---- history pages ------------------------------------------------------------------------

void PgStore::read_after(std::string room, int64_t after_seq, int limit,
                         std::function<void(Result<PgPage>)> done, int32_t partition) {
  read_page(true, std::move(room), after_seq, limit, partition, std::move(done));
}

void PgStore::read_before(std::string room, int64_t before_seq, int limit,
                          std::function<void(Result<PgPage>)> done, int32_t partition) {
  read_page(false, std::move(room), before_seq, limit, partition, std::move(done));
}

void PgStore::read_page(bool after, std::string room, int64_t bound, int limit, int32_t partition,
                        std::function<void(Result<PgPage>)> done) {
  limit = std::clamp(limit, 0, options_.max_page);
  size_t bytes = kJobOverhead + room.size();
  pool_.submit<PgPage>(
      bytes,
      [after, room = std::move(room), bound, limit, partition,
       topic = options_.messages_topic](pg::Connection& c) -> Result<PgPage> {
        Params p;
        p.add(room).add(bound).add(int64_t{limit} + 1).add(topic).add(int64_t{partition});
        auto r = c.exec(after ? kReadAfter : kReadBefore, p);
        if (!r) return r.error();
        PgPage page;
        int rows = r->rows();
        if (rows > 0) {
          page.partition = static_cast<int32_t>(r->int64(0, 0));
          page.persisted_next_offset = r->int64(0, 1);
        }
        page.messages.reserve(static_cast<size_t>(rows));
        for (int i = 0; i < rows; ++i) {
          if (r->is_null(i, 2)) continue;  // the empty page's carrier row
          page.messages.push_back(Message{room, r->int64(i, 2), r->text(i, 3), r->text(i, 4),
                                          r->text(i, 5), r->int64(i, 6), r->text(i, 7)});
        }
        if (page.messages.size() > static_cast<size_t>(limit)) {
          page.has_more = true;
          // One row too many: past the page's far end (after: the newest; before: the oldest).
          if (after) {
            page.messages.pop_back();
          } else {
            page.messages.erase(page.messages.begin());
          }
        }
        return page;
      },
      std::move(done));
}

void PgStore::persisted_offsets(std::function<void(Result<std::map<int32_t, int64_t>>)> done) {
  pool_.submit<std::map<int32_t, int64_t>>(
      kJobOverhead,
      [topic = options_.messages_topic](pg::Connection& c) -> Result<std::map<int32_t, int64_t>> {
        Params p;
        p.add(topic);
        auto r = c.exec(kPersistedOffsets, p);
        if (!r) return r.error();
        std::map<int32_t, int64_t> out;
        for (int i = 0; i < r->rows(); ++i) {
          out[static_cast<int32_t>(r->int64(i, 0))] = r->int64(i, 1);
        }
        return out;
      },
      std::move(done));
}

// ---- blocking calls -----------------------------------------------------------------------

template <typename T, typename Fn>
Result<T> PgStore::blocking(Fn fn) {
  std::lock_guard lock(blocking_mutex_);
  // A connection that died with a restarted server is noticed only when used: the call then
  // gets one more go on a fresh connection (every blocking call may be repeated).
  bool reused = blocking_.connected();
  Result<T> r = fn(blocking_);
  if (!r && reused && !blocking_.connected() && blocking_.last_failure_was_loss()) {
    r = fn(blocking_);
  }
  return r;
}

Result<std::vector<PartitionSnapshot>> PgStore::load_snapshots(const std::vector<int32_t>& wanted,
                                                               int64_t window) {
  const std::string& topic = options_.messages_topic;
  return blocking<std::vector<PartitionSnapshot>>(
      [&](pg::Connection& c) -> Result<std::vector<PartitionSnapshot>> {
        pg::Transaction tx(c);
        if (Status s = tx.begin("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); !s) {
          return s.error();
        }
        std::vector<int32_t> partitions = wanted;
        if (partitions.empty()) {
          auto r = c.exec(kKnownPartitions, Params().add(topic));
          if (!r) return r.error();
          for (int i = 0; i < r->rows(); ++i) {
            partitions.push_back(static_cast<int32_t>(r->int64(i, 0)));
          }
        }
        std::sort(partitions.begin(), partitions.end());
        partitions.erase(std::unique(partitions.begin(), partitions.end()), partitions.end());
        std::string parts = int_array(partitions);

        std::map<int32_t, PartitionSnapshot> snaps;
        for (int32_t p : partitions) snaps[p].partition = p;

        auto offsets = c.exec(kSnapshotOffsets, Params().add(topic).add(parts));
        if (!offsets) return offsets.error();
        for (int i = 0; i < offsets->rows(); ++i) {
          snaps[static_cast<int32_t>(offsets->int64(i, 0))].next_offset = offsets->int64(i, 1);
        }

        auto rooms = c.exec(kSnapshotRooms, Params().add(parts));
        if (!rooms) return rooms.error();
        std::unordered_map<std::string, std::pair<int32_t, size_t>> where;  // room -> slot
        for (int i = 0; i < rooms->rows(); ++i) {
          Room room;
          room.name = rooms->text(i, 0);
          room.kind = kind_of(rooms->int64(i, 1));
          room.created_by = rooms->text(i, 2);
          room.created_at = rooms->int64(i, 3);
          auto p = static_cast<int32_t>(rooms->int64(i, 4));
          PartitionSnapshot& s = snaps[p];
          s.heads[room.name] = rooms->int64(i, 5);
          where[room.name] = {p, s.rooms.size()};
          s.rooms.push_back(std::move(room));
        }

        auto members = c.exec(kSnapshotMembers, Params().add(parts));
        if (!members) return members.error();
        for (int i = 0; i < members->rows(); ++i) {
          auto it = where.find(members->text(i, 0));
          if (it == where.end()) continue;
          snaps[it->second.first].rooms[it->second.second].members.insert(members->text(i, 1));
        }

        TextArray next;
        for (int32_t p : partitions) next.add(snaps[p].next_offset);
        auto entries = c.exec(kSnapshotWindow, Params().add(parts).add(next.take()).add(window));
        if (!entries) return entries.error();
        for (int i = 0; i < entries->rows(); ++i) {
          WindowEntry e{entries->text(i, 1),  entries->text(i, 2), entries->text(i, 3),
                        entries->int64(i, 4), entries->text(i, 5), entries->int64(i, 6)};
          snaps[static_cast<int32_t>(entries->int64(i, 0))].window.push_back(std::move(e));
        }
        if (Status s = tx.commit(); !s) return s.error();

        std::vector<PartitionSnapshot> out;
        out.reserve(snaps.size());
        for (auto& [p, s] : snaps) out.push_back(std::move(s));
        return out;
      });
}

Status PgStore::persist(const PersistBatch& batch) {
  if (batch.empty()) return Ok{};
  // The parameters are built once, outside the retry.
  std::vector<std::pair<const Statement*, Params>> steps;

  TextArray mroom, muser;  // the members of new rooms, then the members added
  if (!batch.created_rooms.empty()) {
    TextArray name, kind, by, at, part;
    for (const CreatedRoom& r : batch.created_rooms) {
      name.add(r.room.name);
      kind.add(kind_code(r.room.kind));
      by.add(r.room.created_by);
      at.add(r.room.created_at);
      part.add(int64_t{r.partition});
      for (const std::string& m : r.room.members) {
        mroom.add(r.room.name);
        muser.add(m);
      }
    }
    steps.emplace_back(
        &kPersistRooms,
        Params().add(name.take()).add(kind.take()).add(by.take()).add(at.take()).add(part.take()));
  }
  for (const auto& [room, user] : batch.added_members) {
    mroom.add(room);
    muser.add(user);
  }
  if (mroom.size() > 0) {
    steps.emplace_back(&kPersistMembers, Params().add(mroom.take()).add(muser.take()));
  }

  if (!batch.messages.empty()) {
    TextArray room, seq, id, from, text, ts, cmid, part;
    std::map<std::string, int64_t> heads;  // sorted: rows are locked in one order
    for (const PersistedMessage& pm : batch.messages) {
      const Message& m = pm.message;
      room.add(m.room);
      seq.add(m.seq);
      id.add(m.msg_id);
      from.add(m.from);
      text.add(m.text);
      ts.add(m.ts);
      if (m.client_msg_id.empty()) {
        cmid.add_null();
      } else {
        cmid.add(m.client_msg_id);
      }
      part.add(int64_t{pm.partition});
      int64_t& h = heads[m.room];
      h = std::max(h, m.seq);
    }
    steps.emplace_back(&kPersistMessages, Params()
                                              .add(room.take())
                                              .add(seq.take())
                                              .add(id.take())
                                              .add(from.take())
                                              .add(text.take())
                                              .add(ts.take())
                                              .add(cmid.take())
                                              .add(part.take()));
    TextArray hroom, hseq;
    for (const auto& [r, s] : heads) {
      hroom.add(r);
      hseq.add(s);
    }
    steps.emplace_back(&kPersistHeads, Params().add(hroom.take()).add(hseq.take()));
  }

  if (!batch.dead_letters.empty()) {
    TextArray source, session, user, op, payload, reason, at;
    for (const SourcedDeadLetter& d : batch.dead_letters) {
      if (d.source.empty()) {
        source.add_null();
      } else {
        source.add(d.source);
      }
      session.add(d.letter.session);
      user.add(d.letter.user);
      op.add(d.letter.op);
      payload.add(d.letter.payload);
      reason.add(d.letter.reason);
      at.add(d.letter.at_ms);
    }
    steps.emplace_back(&kPersistDeadLetters, Params()
                                                 .add(source.take())
                                                 .add(session.take())
                                                 .add(user.take())
                                                 .add(op.take())
                                                 .add(payload.take())
                                                 .add(reason.take())
                                                 .add(at.take()));
  }

  // One advance per partition, sorted by partition (rows are locked in one order).
  std::map<int32_t, OffsetAdvance> advances;
  for (const OffsetAdvance& a : batch.offsets) {
    auto [it, fresh] = advances.emplace(a.partition, a);
    if (!fresh) {
      return make_error(Errc::bad_request,
                        "a batch moves partition " + std::to_string(a.partition) + " twice");
    }
  }
  TextArray part, from, to;
  for (const auto& [p, a] : advances) {
    part.add(int64_t{p});
    from.add(a.from);
    to.add(a.to);
  }
  const std::string& topic = options_.messages_topic;
  const std::string parts = part.take();
  Params ensure = Params().add(topic).add(parts);
  Params advance = Params().add(topic).add(parts).add(from.take()).add(to.take());

  return blocking<Ok>([&](pg::Connection& c) -> Status {
    pg::Transaction tx(c);
    if (Status s = tx.begin(); !s) return s.error();
    // The offsets first: they are the fence. A stale writer stops here, before it writes rows.
    if (!advances.empty()) {
      if (Status s = run(c, kEnsureOffsets, ensure); !s) return s.error();
      auto moved = c.exec(kAdvanceOffsets, advance);
      if (!moved) return moved.error();
      if (moved->rows() != static_cast<int>(advances.size())) {
        return make_error(Errc::conflict, "log offsets moved by another persister (" +
                                              std::to_string(advances.size() - moved->rows()) +
                                              " of " + std::to_string(advances.size()) +
                                              " partitions)");
      }
    }
    for (const auto& [statement, params] : steps) {
      if (Status s = run(c, *statement, params); !s) return s.error();
    }
    return tx.commit();
  });
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
