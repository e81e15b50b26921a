// PgStore against a real PostgreSQL: users, dead letters, settings, the persister's batches,
// the snapshots instances start from, and history pages with the offset they stand for.
#include "adapters/postgres/pg_store.h"

#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "unit/adapters/postgres/pg_test_env.h"

namespace parley {
namespace {

using pgtest::await;
using pgtest::query_int;

constexpr const char* kTopic = "parley.messages";

Message msg(const std::string& room, int64_t seq, const std::string& cmid = "") {
  return Message{room,       seq, "m" + std::to_string(seq), "alice", "text " + std::to_string(seq),
                 1000 + seq, cmid};
}

Room room(const std::string& name, RoomKind kind, std::set<std::string> members) {
  Room r;
  r.name = name;
  r.kind = kind;
  r.created_by = *members.begin();
  r.created_at = 42;
  r.members = std::move(members);
  return r;
}

class PgStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = pgtest::fresh_database();
    ASSERT_FALSE(db_.empty());
    store_ = make_store();
  }
  void TearDown() override {
    store_.reset();
    pgtest::drop_database(db_);
  }

  std::unique_ptr<PgStore> make_store() {
    PgStoreOptions o;
    o.conninfo = db_;
    o.messages_topic = kTopic;
    return std::make_unique<PgStore>(o);
  }

  Result<PgPage> after(const std::string& r, int64_t seq, int limit) {
    return await<Result<PgPage>>([&](auto done) { store_->read_after(r, seq, limit, done); });
  }
  Result<PgPage> before(const std::string& r, int64_t seq, int limit) {
    return await<Result<PgPage>>([&](auto done) { store_->read_before(r, seq, limit, done); });
  }

  // Two partitions: 0 holds "lobby" (public) and "secret" (private), 1 holds a dm.
  PersistBatch sample_batch() {
    PersistBatch b;
    b.created_rooms.push_back({0, room("lobby", RoomKind::public_room, {"alice"})});
    b.created_rooms.push_back({0, room("secret", RoomKind::private_room, {"bob"})});
    b.created_rooms.push_back({1, room("alice\nbob", RoomKind::direct, {"alice", "bob"})});
    b.added_members.push_back({"secret", "carol"});
    b.added_members.push_back({"lobby", "bob"});
    // Offsets of partition 0: 0 lobby created, 1 secret created, 2 invite, 3 lobby created...
    b.messages.push_back({0, msg("lobby", 4, "c4")});
    b.messages.push_back({0, msg("lobby", 5)});
    b.messages.push_back({0, msg("secret", 6, "c6")});
    b.messages.push_back({1, msg("alice\nbob", 2, "c2")});
    DeadLetter d{"s1", "alice", "send", "{\"op\":\"send\"}", "expired", 77};
    b.dead_letters.push_back({"parley.messages:0:7", d});
    b.offsets = {{0, 0, 8}, {1, 0, 3}};
    return b;
  }

  // @p b's rows once more, its offsets standing where @p b left them.
  static PersistBatch rows_again(PersistBatch b) {
    for (OffsetAdvance& a : b.offsets) a.from = a.to;
    return b;
  }

  std::string db_;
  std::unique_ptr<PgStore> store_;
};

TEST_F(PgStoreTest, UsersCreateConflictFind) {
  auto created = await<Status>([&](auto done) { store_->create_user("alice", "h1", done); });
  ASSERT_TRUE(created) << created.error().message;
  auto again = await<Status>([&](auto done) { store_->create_user("alice", "h2", done); });
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Errc::conflict);

  auto found = await<Result<std::optional<std::string>>>(
      [&](auto done) { store_->find_user("alice", done); });
  ASSERT_TRUE(found) << found.error().message;
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ(**found, "h1");  // the conflicting create changed nothing
  auto missing = await<Result<std::optional<std::string>>>(
      [&](auto done) { store_->find_user("nobody", done); });
  ASSERT_TRUE(missing);
  EXPECT_FALSE(missing->has_value());
}

TEST_F(PgStoreTest, DeadLetterRecordedOncePerSource) {
  DeadLetter d{"s1", "alice", "send", "{\"text\":\"hi\"}", "expired", 123};
  for (int i = 0; i < 2; ++i) {
    auto s = await<Status>([&](auto done) { store_->record(d, "parley.messages:3:17", done); });
    ASSERT_TRUE(s) << s.error().message;
  }
  auto other = await<Status>([&](auto done) { store_->record(d, "parley.messages:3:18", done); });
  ASSERT_TRUE(other);
  EXPECT_EQ(query_int(db_, "SELECT count(*) FROM dead_letters"), 2);
  EXPECT_EQ(query_int(db_,
                      "SELECT count(*) FROM dead_letters WHERE source = 'parley.messages:3:17' "
                      "AND session = 's1' AND \"user\" = 'alice' AND op = 'send' "
                      "AND payload = '{\"text\":\"hi\"}' AND reason = 'expired' AND at_ms = 123"),
            1);
  // Without a source (the port's record), each call is a row of its own; fire and forget.
  store_->record(d);
  store_->record(d);
  EXPECT_TRUE(pgtest::eventually(
      [&] { return query_int(db_, "SELECT count(*) FROM dead_letters WHERE source IS NULL") == 2; },
      std::chrono::seconds(5)));
}

TEST_F(PgStoreTest, SharedSettingFirstValueWins) {
  auto other = make_store();
  auto a = store_->shared_setting("token_secret", [] { return std::string("from-a"); });
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(*a, "from-a");
  auto b = other->shared_setting("token_secret", [] { return std::string("from-b"); });
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_EQ(*b, "from-a");
  auto e = other->shared_setting("epoch", [] { return std::string("e-b"); });
  ASSERT_TRUE(e);
  EXPECT_EQ(*e, "e-b");
}

TEST_F(PgStoreTest, SharedSettingAgreesUnderRace) {
  constexpr int kN = 6;
  std::vector<std::unique_ptr<PgStore>> stores;
  for (int i = 0; i < kN; ++i) stores.push_back(make_store());
  std::vector<std::string> got(kN);
  std::vector<std::thread> threads;
  for (int i = 0; i < kN; ++i) {
    threads.emplace_back([&, i] {
      auto r = stores[static_cast<size_t>(i)]->shared_setting(
          "epoch", [i] { return "v" + std::to_string(i); });
      got[static_cast<size_t>(i)] = r ? *r : "error: " + r.error().message;
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& g : got) EXPECT_EQ(g, got[0]);
  EXPECT_EQ(got[0].rfind("v", 0), 0u) << got[0];
}

// Every table as text, to compare the database before and after.
std::string dump(const std::string& db) {
  pg::Connection c(db);
  std::string out;
  for (const char* q :
       {"SELECT name, kind, created_by, created_at, partition, last_seq FROM rooms ORDER BY name",
        "SELECT room, \"user\" FROM members ORDER BY 1, 2",
        "SELECT room, seq, msg_id, sender, text, ts, client_msg_id, partition FROM messages "
        "ORDER BY 1, 2",
        "SELECT source, session, \"user\", op, payload, reason, at_ms FROM dead_letters "
        "ORDER BY 1",
        "SELECT topic, partition, next_offset FROM log_offsets ORDER BY 1, 2"}) {
    auto r = c.exec(q);
    if (!r) return "error: " + r.error().message;
    for (int i = 0; i < r->rows(); ++i) {
      for (int j = 0; j < PQnfields(r->raw()); ++j) {
        out += r->is_null(i, j) ? "<null>" : r->text(i, j);
        out += '|';
      }
      out += '\n';
    }
    out += "--\n";
  }
  return out;
}

// The rows of a batch stored again (its offsets standing where the first left them) change
// nothing. The same batch with its own offsets again is a stale batch: refused whole.
TEST_F(PgStoreTest, PersistIsIdempotent) {
  PersistBatch b = sample_batch();
  Status first = store_->persist(b);
  ASSERT_TRUE(first) << first.error().message;
  std::string once = dump(db_);
  Status second = store_->persist(rows_again(b));
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(dump(db_), once);
  Status replay = store_->persist(b);
  ASSERT_FALSE(replay);
  EXPECT_EQ(replay.error().code, Errc::conflict);
  EXPECT_EQ(dump(db_), once);

  EXPECT_EQ(query_int(db_, "SELECT count(*) FROM messages"), 4);
  EXPECT_EQ(query_int(db_, "SELECT count(*) FROM members"), 6);
  EXPECT_EQ(query_int(db_, "SELECT count(*) FROM dead_letters"), 1);
  EXPECT_EQ(query_int(db_, "SELECT last_seq FROM rooms WHERE name = 'lobby'"), 5);
  EXPECT_EQ(query_int(db_, "SELECT kind FROM rooms WHERE name = 'alice\nbob'"), 2);

  // An older batch replayed (a persister that restarted from an older position, or one that
  // lost the partition and writes late) is refused whole and lowers nothing.
  PersistBatch old;
  old.messages.push_back({0, msg("lobby", 4, "c4")});
  old.offsets = {{0, 4, 5}};
  Status stale = store_->persist(old);
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code, Errc::conflict) << stale.error().message;
  EXPECT_EQ(dump(db_), once);
  EXPECT_EQ(query_int(db_, "SELECT next_offset FROM log_offsets WHERE partition = 0"), 8);
}

// Two owners of one partition (a rebalance while one was writing): the offset is a fence. The
// batch that starts where PostgreSQL stands wins; the other, even one that would move the
// offset further, is refused with everything it carried, so no offset ever passes a record
// its writer did not store.
TEST_F(PgStoreTest, OffsetsMoveOnlyFromWhereTheyStand) {
  ASSERT_TRUE(store_->persist(sample_batch()));  // partition 0 at 8, partition 1 at 3

  PersistBatch next;  // the owner: offsets 8..9 of partition 0
  next.messages.push_back({0, msg("lobby", 9, "c9")});
  next.offsets = {{0, 8, 10}};
  PersistBatch zombie;  // a stale owner that folded 8..11 from an empty state: skips seq 9
  zombie.messages.push_back({0, msg("lobby", 12, "c12")});
  zombie.offsets = {{0, 8, 12}, {1, 3, 4}};

  ASSERT_TRUE(store_->persist(next));
  Status s = store_->persist(zombie);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, Errc::conflict) << s.error().message;
  EXPECT_EQ(query_int(db_, "SELECT next_offset FROM log_offsets WHERE partition = 0"), 10);
  EXPECT_EQ(query_int(db_, "SELECT next_offset FROM log_offsets WHERE partition = 1"), 3);
  EXPECT_EQ(query_int(db_, "SELECT count(*) FROM messages WHERE seq = 12"), 0);

  // A fresh partition: the first batch must start at 0.
  PersistBatch late;
  late.offsets = {{6, 5, 9}};
  ASSERT_FALSE(store_->persist(late));
  EXPECT_EQ(query_int(db_,
                      "SELECT count(*) FROM log_offsets WHERE partition = 6 AND "
                      "next_offset <> 0"),
            0);
  late.offsets = {{6, 0, 9}};
  ASSERT_TRUE(store_->persist(late));
  EXPECT_EQ(query_int(db_, "SELECT next_offset FROM log_offsets WHERE partition = 6"), 9);

  // A partition twice in one batch is a bug of the caller, refused before anything is written.
  PersistBatch twice;
  twice.offsets = {{0, 10, 11}, {0, 11, 12}};
  Status t = store_->persist(twice);
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code, Errc::bad_request);
}

TEST_F(PgStoreTest, PersistedOffsetsSayHowFarEachPartitionIsStored) {
  using Offsets = std::map<int32_t, int64_t>;
  auto none = await<Result<Offsets>>([&](auto done) { store_->persisted_offsets(done); });
  ASSERT_TRUE(none) << none.error().message;
  EXPECT_TRUE(none->empty());
  ASSERT_TRUE(store_->persist(sample_batch()));
  auto some = await<Result<Offsets>>([&](auto done) { store_->persisted_offsets(done); });
  ASSERT_TRUE(some) << some.error().message;
  EXPECT_EQ(*some, (Offsets{{0, 8}, {1, 3}}));
}

TEST_F(PgStoreTest, FailedPersistKeepsNothing) {
  PersistBatch b = sample_batch();
  // Not UTF-8: PostgreSQL refuses the whole statement, so the transaction must roll back.
  b.messages.push_back({0, Message{"lobby", 9, "m9", "alice", "bad \xff\xfe", 1, ""}});
  Status s = store_->persist(b);
  ASSERT_FALSE(s);
  EXPECT_EQ(query_int(db_, "SELECT count(*) FROM rooms"), 0);
  EXPECT_EQ(query_int(db_, "SELECT count(*) FROM log_offsets"), 0);
  // The connection is fine afterwards.
  ASSERT_TRUE(store_->persist(sample_batch()));
  EXPECT_EQ(query_int(db_, "SELECT count(*) FROM rooms"), 3);
}

TEST_F(PgStoreTest, PersistThenSnapshotRoundTrip) {
  ASSERT_TRUE(store_->persist(sample_batch()));
  auto snaps = store_->load_snapshots({}, 100);
  ASSERT_TRUE(snaps) << snaps.error().message;
  ASSERT_EQ(snaps->size(), 2u);

  const PartitionSnapshot& p0 = (*snaps)[0];
  EXPECT_EQ(p0.partition, 0);
  EXPECT_EQ(p0.next_offset, 8);
  ASSERT_EQ(p0.rooms.size(), 2u);
  for (const Room& r : p0.rooms) {
    if (r.name == "lobby") {
      EXPECT_EQ(r.kind, RoomKind::public_room);
      EXPECT_EQ(r.members, (std::set<std::string>{"alice", "bob"}));
      EXPECT_EQ(r.created_by, "alice");
      EXPECT_EQ(r.created_at, 42);
    } else {
      EXPECT_EQ(r.name, "secret");
      EXPECT_EQ(r.kind, RoomKind::private_room);
      EXPECT_EQ(r.members, (std::set<std::string>{"bob", "carol"}));
    }
  }
  EXPECT_EQ(p0.heads.at("lobby"), 5);
  EXPECT_EQ(p0.heads.at("secret"), 6);
  // Window entries: only sends with a client_msg_id, oldest first.
  ASSERT_EQ(p0.window.size(), 2u);
  EXPECT_EQ(p0.window[0].room, "lobby");
  EXPECT_EQ(p0.window[0].user, "alice");
  EXPECT_EQ(p0.window[0].client_msg_id, "c4");
  EXPECT_EQ(p0.window[0].seq, 4);
  EXPECT_EQ(p0.window[0].msg_id, "m4");
  EXPECT_EQ(p0.window[0].ts, 1004);
  EXPECT_EQ(p0.window[1].client_msg_id, "c6");

  const PartitionSnapshot& p1 = (*snaps)[1];
  EXPECT_EQ(p1.partition, 1);
  EXPECT_EQ(p1.next_offset, 3);
  ASSERT_EQ(p1.rooms.size(), 1u);
  EXPECT_EQ(p1.rooms[0].kind, RoomKind::direct);
  EXPECT_EQ(p1.rooms[0].members, (std::set<std::string>{"alice", "bob"}));
  ASSERT_EQ(p1.window.size(), 1u);

  // A small window keeps only seq > next_offset - window: 8 - 3 = 5, so c6 and not c4.
  auto narrow = store_->load_snapshots({0}, 3);
  ASSERT_TRUE(narrow);
  ASSERT_EQ(narrow->size(), 1u);
  ASSERT_EQ((*narrow)[0].window.size(), 1u);
  EXPECT_EQ((*narrow)[0].window[0].client_msg_id, "c6");
  EXPECT_EQ((*narrow)[0].rooms.size(), 2u);

  // A partition asked for but never persisted comes back empty, from offset 0.
  auto unknown = store_->load_snapshots({1, 7}, 100);
  ASSERT_TRUE(unknown);
  ASSERT_EQ(unknown->size(), 2u);
  EXPECT_EQ((*unknown)[0].partition, 1);
  EXPECT_EQ((*unknown)[1].partition, 7);
  EXPECT_EQ((*unknown)[1].next_offset, 0);
  EXPECT_TRUE((*unknown)[1].rooms.empty());
  EXPECT_TRUE((*unknown)[1].window.empty());
}

TEST_F(PgStoreTest, SnapshotIncludesPartitionsWithOnlyAnOffset) {
  PersistBatch b;
  b.offsets = {{5, 0, 12}};  // a partition whose records were all refused: no rooms
  ASSERT_TRUE(store_->persist(b));
  auto snaps = store_->load_snapshots({}, 100);
  ASSERT_TRUE(snaps);
  ASSERT_EQ(snaps->size(), 1u);
  EXPECT_EQ((*snaps)[0].partition, 5);
  EXPECT_EQ((*snaps)[0].next_offset, 12);
}

TEST_F(PgStoreTest, PagesAfterAndBeforeWithOffsets) {
  PersistBatch b;
  b.created_rooms.push_back({3, room("lobby", RoomKind::public_room, {"alice"})});
  for (int64_t seq = 1; seq <= 25; ++seq) b.messages.push_back({3, msg("lobby", seq)});
  b.offsets = {{3, 0, 26}};
  ASSERT_TRUE(store_->persist(b));

  auto p = after("lobby", 0, 10);
  ASSERT_TRUE(p) << p.error().message;
  ASSERT_EQ(p->messages.size(), 10u);
  EXPECT_EQ(p->messages.front().seq, 1);
  EXPECT_EQ(p->messages.back().seq, 10);
  EXPECT_TRUE(p->has_more);
  EXPECT_EQ(p->partition, 3);
  EXPECT_EQ(p->persisted_next_offset, 26);
  EXPECT_EQ(p->messages[0].room, "lobby");
  EXPECT_EQ(p->messages[0].msg_id, "m1");
  EXPECT_EQ(p->messages[0].from, "alice");
  EXPECT_EQ(p->messages[0].text, "text 1");
  EXPECT_EQ(p->messages[0].ts, 1001);

  p = after("lobby", 15, 10);
  ASSERT_TRUE(p);
  ASSERT_EQ(p->messages.size(), 10u);
  EXPECT_EQ(p->messages.front().seq, 16);
  EXPECT_FALSE(p->has_more);  // exactly the last ten

  p = after("lobby", 20, 10);
  ASSERT_TRUE(p);
  ASSERT_EQ(p->messages.size(), 5u);
  EXPECT_FALSE(p->has_more);

  p = before("lobby", 0, 10);  // the newest
  ASSERT_TRUE(p);
  ASSERT_EQ(p->messages.size(), 10u);
  EXPECT_EQ(p->messages.front().seq, 16);
  EXPECT_EQ(p->messages.back().seq, 25);
  EXPECT_TRUE(p->has_more);
  EXPECT_EQ(p->persisted_next_offset, 26);

  p = before("lobby", 16, 10);
  ASSERT_TRUE(p);
  ASSERT_EQ(p->messages.size(), 10u);
  EXPECT_EQ(p->messages.front().seq, 6);
  EXPECT_EQ(p->messages.back().seq, 15);
  EXPECT_TRUE(p->has_more);

  p = before("lobby", 6, 10);
  ASSERT_TRUE(p);
  ASSERT_EQ(p->messages.size(), 5u);
  EXPECT_EQ(p->messages.front().seq, 1);
  EXPECT_FALSE(p->has_more);

  p = after("lobby", 25, 10);  // nothing newer: still the room's partition and offset
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->messages.empty());
  EXPECT_FALSE(p->has_more);
  EXPECT_EQ(p->partition, 3);
  EXPECT_EQ(p->persisted_next_offset, 26);

  p = after("nowhere", 0, 10);
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->messages.empty());
  EXPECT_EQ(p->partition, -1);
  EXPECT_EQ(p->persisted_next_offset, 0);
  // A room PostgreSQL has never seen, read with its partition (computed from its name): the
  // partition's persisted offset, so a reader starts the log's part there (issue 14).
  p = await<Result<PgPage>>([&](auto done) { store_->read_after("nowhere", 0, 10, done, 3); });
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_TRUE(p->messages.empty());
  EXPECT_EQ(p->partition, 3);
  EXPECT_EQ(p->persisted_next_offset, 26);
  p = await<Result<PgPage>>([&](auto done) { store_->read_before("nowhere", 0, 10, done, 3); });
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->persisted_next_offset, 26);

  // A room whose partition has no offset row yet.
  PersistBatch c;
  c.created_rooms.push_back({4, room("quiet", RoomKind::public_room, {"bob"})});
  ASSERT_TRUE(store_->persist(c));
  p = before("quiet", 0, 10);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->partition, 4);
  EXPECT_EQ(p->persisted_next_offset, 0);
}

TEST_F(PgStoreTest, Persist10000MessagesRate) {
  constexpr int kRooms = 100;
  constexpr int kMessages = 10000;
  PersistBatch rooms;
  for (int r = 0; r < kRooms; ++r) {
    rooms.created_rooms.push_back(
        {r % 8, room("room" + std::to_string(r), RoomKind::public_room, {"alice"})});
  }
  ASSERT_TRUE(store_->persist(rooms));

  PersistBatch b;
  std::vector<int64_t> next(8, 0);
  for (int i = 0; i < kMessages; ++i) {
    int r = i % kRooms;
    int32_t part = r % 8;
    int64_t seq = ++next[static_cast<size_t>(part)];
    Message m{"room" + std::to_string(r), seq,
              "msg-" + std::to_string(i), "alice",
              std::string(100, 'x'),      1700000000000 + i,
              "cmid-" + std::to_string(i)};
    b.messages.push_back({part, std::move(m)});
  }
  for (int32_t p = 0; p < 8; ++p) b.offsets.push_back({p, 0, next[static_cast<size_t>(p)]});

  auto t0 = std::chrono::steady_clock::now();
  Status s = store_->persist(b);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(s) << s.error().message;
  std::cout << "[ rate ] persist of " << kMessages << " messages (100-byte texts) in one "
            << "transaction: " << static_cast<int64_t>(secs * 1000)
            << " ms = " << static_cast<int64_t>(kMessages / secs) << " rows/s" << std::endl;
  EXPECT_EQ(query_int(db_, "SELECT count(*) FROM messages"), kMessages);
  // Every room's head is its newest message.
  EXPECT_EQ(query_int(db_,
                      "SELECT count(*) FROM rooms r WHERE r.last_seq = "
                      "(SELECT max(seq) FROM messages m WHERE m.room = r.name)"),
            kRooms);

  // Again, all duplicates: the rows of a batch written twice.
  t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(store_->persist(rows_again(b)));
  secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << "[ rate ] replay of the same batch: " << static_cast<int64_t>(secs * 1000) << " ms"
            << std::endl;
  EXPECT_EQ(query_int(db_, "SELECT count(*) FROM messages"), kMessages);
}

TEST_F(PgStoreTest, ReconnectsAfterItsBackendsAreKilled) {
  ASSERT_TRUE(store_->persist(sample_batch()));
  auto p = after("lobby", 0, 10);
  ASSERT_TRUE(p);
  // Every session of this database dies (as after a server restart).
  std::string name = db_.substr(db_.rfind("dbname=") + 7);
  EXPECT_GE(query_int(pgtest::admin_conninfo(),
                      "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                      "WHERE datname = '" +
                          name + "'"),
            1);
  // Reads and blocking calls notice on their next use and go again on a fresh connection.
  p = after("lobby", 0, 10);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->messages.size(), 2u);
  Status s = store_->persist(rows_again(sample_batch()));
  ASSERT_TRUE(s) << s.error().message;
}

}  // namespace
}  // namespace parley
