// The storage contract: one typed suite for the driven storage ports (MessageLog, HistoryStore,
// RoomStore with its change feed, UserStore), run against the in-memory fakes, the real SQLite
// storage and the cluster wiring (ClusterLog and PgStore on a real Kafka broker and a real
// PostgreSQL), so that the fakes the unit tests rely on cannot drift from the real things, and
// the two wirings of the core stay two wirings of one contract. Where they legitimately differ,
// the difference is a property of the Env (kConsecutiveSeqs and the others below), asserted
// both ways, never a skipped case. Cases that only one implementation can show (group commit,
// durability across restarts, history read from PostgreSQL behind a persister) follow it.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <numeric>
#include <set>
#include <stdexcept>
#include <thread>

#include "adapters/cluster/cluster_log.h"
#include "adapters/cluster/persister.h"
#include "adapters/kafka/kafka_admin.h"
#include "adapters/kafka/kafka_producer.h"
#include "adapters/kafka/record_mac.h"
#include "adapters/postgres/pg_store.h"
#include "adapters/sqlite/sqlite_db.h"
#include "adapters/sqlite/sqlite_storage.h"
#include "app/metrics.h"
#include "cli/system_clock.h"
#include "contract/storage_test_support.h"
#include "fakes/fake_message_log.h"
#include "fakes/fake_room_store.h"
#include "fakes/fake_user_store.h"
#include "fakes/manual_clock.h"
#include "runtime/thread_pool_executor.h"
#include "unit/adapters/kafka/kafka_test_env.h"
#include "unit/adapters/kafka/kafka_test_util.h"
#include "unit/adapters/postgres/pg_test_env.h"

namespace parley {
namespace {

using fakes::ManualClock;
using namespace std::chrono_literals;
using testsupport::await;
using testsupport::Committed;
using testsupport::Latch;
using testsupport::TempDir;

// ---- the implementations under contract ----------------------------------------------------
//
// Every Env gives the four ports, the clock the ports read (deadlines are made from it), a way
// to load the rooms as a server starting now would see them, and a drain (everything queued
// answered, the sinks included). And what may differ between wirings:
//   kConsecutiveSeqs   a room's seqs are 1, 2, 3...; otherwise only strictly increasing (the
//                      cluster's seq is the Kafka offset + 1, shared by the rooms of a partition
//                      and by the room records);
//   kCallerTimes       a message's ts is the log's clock and a room's created_at the caller's;
//                      otherwise both are the broker's append time;
//   kLogDecidesAccess  the log itself refuses a send to an unknown room or by a non-member of a
//                      private room, and an invitation by a non-member (the cluster, where each
//                      instance decides alone from the log); otherwise that is left to the use
//                      cases, which check the directory first;
//   kDuplicateHasText  the answer to a repeated client_msg_id carries the first send's text
//                      (the protocol's answer does not: the cluster does not remember it).

// What a room store's change feed said, and whether each change came before its caller's answer.
struct RoomChanges {
  std::mutex mutex;
  std::vector<RoomChange> seen;
  std::function<void(const RoomChange&)> sink() {
    return [this](const RoomChange& c) {
      std::lock_guard lock(mutex);
      seen.push_back(c);
    };
  }
  size_t size() {
    std::lock_guard lock(mutex);
    return seen.size();
  }
};

class FakeEnv {
 public:
  static constexpr const char* kName = "Fake";
  static constexpr bool kConsecutiveSeqs = true;
  static constexpr bool kCallerTimes = true;
  static constexpr bool kLogDecidesAccess = false;
  static constexpr bool kDuplicateHasText = true;

  FakeEnv(std::shared_ptr<ManualClock> clock, Committed& committed)
      : clock_(clock),
        log_(std::make_shared<fakes::FakeMessageLog>(std::move(clock))),
        rooms_(clock_) {
    log_->on_committed(committed.sink());
    rooms_.on_change(changes.sink());
  }
  RoomChanges changes;
  MessageLog& log() { return *log_; }
  HistoryStore& history() { return *log_; }
  RoomStore& rooms() { return rooms_; }
  UserStore& users() { return users_; }
  const Clock& clock() const { return *clock_; }
  std::vector<Room> load_rooms() { return rooms_.load_rooms(); }
  void drain() {}

 private:
  std::shared_ptr<ManualClock> clock_;
  std::shared_ptr<fakes::FakeMessageLog> log_;
  fakes::FakeRoomStore rooms_;
  fakes::FakeUserStore users_;
};

class SqliteEnv {
 public:
  static constexpr const char* kName = "Sqlite";
  static constexpr bool kConsecutiveSeqs = true;
  static constexpr bool kCallerTimes = true;
  static constexpr bool kLogDecidesAccess = false;
  static constexpr bool kDuplicateHasText = true;

  SqliteEnv(std::shared_ptr<ManualClock> clock, Committed& committed)
      : clock_(std::move(clock)), committed_(committed) {
    open();
    storage_->start();
  }
  MessageLog& log() { return *storage_; }
  HistoryStore& history() { return *storage_; }
  RoomStore& rooms() { return *storage_; }
  UserStore& users() { return *storage_; }
  const Clock& clock() const { return *clock_; }
  // load_rooms is a start-up call: restart the storage around it, as the server would.
  std::vector<Room> load_rooms() {
    storage_.reset();
    open();
    auto rooms = storage_->load_rooms();
    storage_->start();
    return rooms;
  }
  // Waits for everything queued, callbacks and sink included.
  void drain() { storage_->stop(); }

 private:
  void open() {
    storage_ = std::make_unique<SqliteStorage>(SqliteOptions{dir_.file("parley.db")}, clock_);
    storage_->on_committed(committed_.sink());
    storage_->on_change(changes.sink());
  }

 public:
  RoomChanges changes;

 private:
  TempDir dir_;
  std::shared_ptr<ManualClock> clock_;
  Committed& committed_;
  std::unique_ptr<SqliteStorage> storage_;
};

// The cluster wiring as `parley serve --kafka --postgres` makes it (cli/wire_cluster.cpp):
// ClusterLog is the MessageLog, the HistoryStore and the RoomStore, PgStore the UserStore. Each
// test gets topics of its own (a prefix) and a database of its own, on the broker and the
// server of this test binary. No persister runs unless a test starts one: history past what
// PostgreSQL holds is read from Kafka, so without one all of it is.
class ClusterEnv {
 public:
  static constexpr const char* kName = "Cluster";
  static constexpr bool kConsecutiveSeqs = false;
  static constexpr bool kCallerTimes = false;
  static constexpr bool kLogDecidesAccess = true;
  static constexpr bool kDuplicateHasText = false;
  static constexpr int64_t kDedupeWindow = 100000;

  ClusterEnv(std::shared_ptr<ManualClock> /*unused: the broker stamps the time*/,
             Committed& committed) {
    kafka_.bootstrap = kafka_test::RealKafka::instance->bootstrap;
    if (kafka_.bootstrap.empty()) throw std::runtime_error("no Kafka broker for the tests");
    if (pgtest::admin_conninfo().empty()) throw std::runtime_error("no PostgreSQL for the tests");
    kafka_.topic_prefix = kafka_test::unique_prefix("contract");
    kafka_.partitions = 2;  // rooms share partitions: their seqs interleave
    kafka_.replication = 1;
    // The cluster's record key: without one every record read back is dropped as forged.
    kafka_.mac =
        std::make_shared<const RecordMac>(*RecordMac::from_hex(RecordMac::random_hex_key()));
    ensure_topics(kafka_);
    conninfo_ = pgtest::fresh_database();
    if (conninfo_.empty()) throw std::runtime_error("cannot create a database");
    PgStoreOptions pg;
    pg.conninfo = conninfo_;
    pg.messages_topic = kafka_.messages();
    store_ = std::make_shared<PgStore>(pg);
    producer_ = std::make_shared<KafkaProducer>(kafka_);
    log_ = start_instance(committed.sink(), changes.sink());
  }
  ~ClusterEnv() {
    if (log_) log_->stop();
    if (producer_) producer_->stop();
    if (store_) store_->stop();
    readers_->stop();
    if (!conninfo_.empty()) pgtest::drop_database(conninfo_);
  }

  RoomChanges changes;
  MessageLog& log() { return *log_; }
  HistoryStore& history() { return *log_; }
  RoomStore& rooms() { return *log_; }
  UserStore& users() { return *store_; }
  const Clock& clock() const { return *clock_; }

  // The rooms as an instance starting now sees them once it reads every partition: the rooms
  // in PostgreSQL, then the change feed of what each partition's load and fold tell it.
  std::vector<Room> load_rooms() {
    std::mutex mutex;
    std::map<std::string, Room> rooms;
    auto feed = [&](const RoomChange& c) {
      std::lock_guard lock(mutex);
      if (c.kind == RoomChange::Kind::member_added) {
        rooms[c.room.name].members.insert(c.member);
      } else {
        rooms[c.room.name] = c.room;
      }
    };
    auto other = start_instance([](std::vector<Message>) {}, feed,
                                [&](ClusterLog& log) {
                                  for (auto& room : log.load_rooms()) rooms[room.name] = room;
                                });
    std::atomic<int> read{0};
    for (int32_t p = 0; p < other->partitions(); ++p) {
      other->follow_partition(p, [&](Status s) {
        if (s.ok()) ++read;
      });
    }
    if (!pgtest::eventually([&] { return read.load() == other->partitions(); }, 15s)) {
      throw std::runtime_error("the instance could not read every partition within 15 s");
    }
    other->stop();
    std::vector<Room> out;
    for (auto& [name, room] : rooms) out.push_back(std::move(room));
    return out;
  }
  // Every answer and sink call of this instance comes from its tail: stopping it waits for them.
  void drain() { log_->stop(); }

  // For the cases that only the cluster can show.
  const KafkaOptions& kafka() const { return kafka_; }
  const std::string& conninfo() const { return conninfo_; }
  std::shared_ptr<PgStore> store() { return store_; }
  /// Replaces this instance by a new one that starts from PostgreSQL's snapshot.
  void restart(Committed& committed) {
    log_->stop();
    log_ = start_instance(committed.sink(), changes.sink());
  }

 private:
  std::shared_ptr<ClusterLog> start_instance(std::function<void(std::vector<Message>)> sink,
                                             std::function<void(const RoomChange&)> feed,
                                             const std::function<void(ClusterLog&)>& loaded = {}) {
    ClusterLogOptions options;
    options.origin = "contract/" + std::to_string(++instances_);
    options.dedupe_window = kDedupeWindow;
    auto log = std::make_shared<ClusterLog>(options, kafka_, producer_, store_, clock_, readers_);
    log->load();
    if (loaded) loaded(*log);
    log->on_committed(std::move(sink));
    log->on_change(std::move(feed));
    log->follow();
    if (!pgtest::eventually([&] { return log->caught_up(); }, 15s)) {
      throw std::runtime_error("the log tail did not catch up within 15 s");
    }
    return log;
  }

  std::shared_ptr<SystemClock> clock_ = std::make_shared<SystemClock>();
  std::shared_ptr<ThreadPoolExecutor> readers_ = std::make_shared<ThreadPoolExecutor>(2);
  KafkaOptions kafka_;
  std::string conninfo_;
  std::shared_ptr<PgStore> store_;
  std::shared_ptr<KafkaProducer> producer_;
  std::shared_ptr<ClusterLog> log_;
  int instances_ = 0;
};

template <typename Env>
class StorageContractTest : public ::testing::Test {
 protected:
  // Sends go to rooms that exist, as the use cases' do (in the cluster the log checks it): a
  // public room of alice's, made on first use.
  void ensure_room(const std::string& room) {
    if (!made_.insert(room).second) return;
    Room r{room, RoomKind::public_room, "alice", env.clock().now_ms(), {"alice"}};
    Status st = create_room(r, true);
    if (!st.ok())
      throw std::runtime_error("cannot create room " + room + ": " + st.error().message);
  }
  // An append to a room that may not exist (see kLogDecidesAccess).
  Result<Appended> append_raw(const std::string& room, const std::string& from,
                              const std::string& text, const std::string& client_msg_id = "",
                              DeadlinePtr deadline = nullptr) {
    return await<Result<Appended>>([&](auto done) {
      env.log().append(AppendRequest{room, from, text, client_msg_id, deadline}, done);
    });
  }
  Result<Appended> append(const std::string& room, const std::string& from, const std::string& text,
                          const std::string& client_msg_id = "", DeadlinePtr deadline = nullptr) {
    ensure_room(room);
    return append_raw(room, from, text, client_msg_id, std::move(deadline));
  }
  Message append_ok(const std::string& room, const std::string& text = "hello") {
    auto r = append(room, "alice", text);
    if (!r.ok()) throw std::runtime_error("append failed: " + r.error().message);
    return r->message;
  }
  // The seqs of @p n messages appended to @p room, texts m1..mn.
  std::vector<int64_t> append_n(const std::string& room, int n) {
    std::vector<int64_t> out;
    for (int i = 0; i < n; ++i) out.push_back(append_ok(room, "m" + std::to_string(i + 1)).seq);
    return out;
  }
  Page read_after(const std::string& room, int64_t after, int limit) {
    auto r =
        await<Result<Page>>([&](auto done) { env.history().read_after(room, after, limit, done); });
    if (!r.ok()) throw std::runtime_error("read_after failed: " + r.error().message);
    return std::move(r).value();
  }
  Page read_before(const std::string& room, int64_t before, int limit) {
    auto r = await<Result<Page>>(
        [&](auto done) { env.history().read_before(room, before, limit, done); });
    if (!r.ok()) throw std::runtime_error("read_before failed: " + r.error().message);
    return std::move(r).value();
  }
  int64_t head(const std::string& room) {
    auto r = await<Result<int64_t>>([&](auto done) { env.log().head(room, done); });
    if (!r.ok()) throw std::runtime_error("head failed: " + r.error().message);
    return *r;
  }
  Status create_room(Room room, bool if_absent, DeadlinePtr deadline = nullptr) {
    return await<Status>(
        [&](auto done) { env.rooms().create_room(room, if_absent, deadline, done); });
  }
  Status add_member(const std::string& room, const std::string& user,
                    const std::string& invited_by = "alice", DeadlinePtr deadline = nullptr) {
    return await<Status>(
        [&](auto done) { env.rooms().add_member(room, user, invited_by, deadline, done); });
  }
  Status create_user(const std::string& name, const std::string& hash) {
    return await<Status>([&](auto done) { env.users().create_user(name, hash, done); });
  }
  std::optional<std::string> find_user(const std::string& name) {
    auto r = await<Result<std::optional<std::string>>>(
        [&](auto done) { env.users().find_user(name, done); });
    if (!r.ok()) throw std::runtime_error("find_user failed: " + r.error().message);
    return *r;
  }
  std::optional<Room> loaded_room(const std::string& name) {
    for (auto& room : env.load_rooms()) {
      if (room.name == name) return room;
    }
    return std::nullopt;
  }
  int64_t steady_now() const { return env.clock().steady_ms(); }
  static std::vector<int64_t> seqs(const Page& page) {
    std::vector<int64_t> out;
    for (const auto& m : page.messages) out.push_back(m.seq);
    return out;
  }
  static std::vector<int64_t> range(int64_t from, int64_t to) {
    std::vector<int64_t> out(static_cast<size_t>(to - from + 1));
    std::iota(out.begin(), out.end(), from);
    return out;
  }
  // seqs[from..to], both included.
  static std::vector<int64_t> slice(const std::vector<int64_t>& seqs, size_t from, size_t to) {
    return {seqs.begin() + static_cast<ptrdiff_t>(from),
            seqs.begin() + static_cast<ptrdiff_t>(to) + 1};
  }
  static bool strictly_increasing(const std::vector<int64_t>& seqs) {
    return std::adjacent_find(seqs.begin(), seqs.end(), std::greater_equal<int64_t>()) ==
           seqs.end();
  }

  std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>();
  Committed committed;
  Env env{clock, committed};

 private:
  std::set<std::string> made_;
};

struct EnvName {
  template <typename T>
  static std::string GetName(int) {
    return T::kName;
  }
};

using Implementations = ::testing::Types<FakeEnv, SqliteEnv, ClusterEnv>;
TYPED_TEST_SUITE(StorageContractTest, Implementations, EnvName);

// ---- MessageLog -----------------------------------------------------------------------------

TYPED_TEST(StorageContractTest, AppendAssignsIncreasingSeqsPerRoom) {
  auto a1 = this->append_ok("a").seq;
  auto a2 = this->append_ok("a").seq;
  auto b1 = this->append_ok("b").seq;  // each room counts on its own
  auto a3 = this->append_ok("a").seq;
  EXPECT_GE(a1, 1);
  EXPECT_GE(b1, 1);
  EXPECT_TRUE(this->strictly_increasing({a1, a2, a3})) << a1 << " " << a2 << " " << a3;
  EXPECT_EQ(this->head("a"), a3);
  EXPECT_EQ(this->head("b"), b1);
  EXPECT_EQ(this->head("never"), 0);
  if constexpr (TypeParam::kConsecutiveSeqs) {
    EXPECT_EQ(std::vector<int64_t>({a1, a2, a3}), this->range(1, 3));
    EXPECT_EQ(b1, 1);
  }
}

TYPED_TEST(StorageContractTest, AppendStampsTheMessage) {
  this->ensure_room("lobby");
  this->clock->set_now(1'700'000'000'001);
  int64_t before = this->env.clock().now_ms();
  auto r = this->append("lobby", "bob", "hi there", "c-1");
  int64_t after = this->env.clock().now_ms();
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Message& m = r->message;
  EXPECT_FALSE(r->duplicate);
  EXPECT_EQ(m.room, "lobby");
  EXPECT_EQ(m.from, "bob");
  EXPECT_EQ(m.text, "hi there");
  EXPECT_EQ(m.client_msg_id, "c-1");
  if constexpr (TypeParam::kCallerTimes) {
    EXPECT_EQ(m.ts, 1'700'000'000'001);
  } else {
    // The broker's append time; the broker runs on this machine (a second of slack each way).
    EXPECT_GE(m.ts, before - 1000);
    EXPECT_LE(m.ts, after + 1000);
  }
  EXPECT_FALSE(m.msg_id.empty());
  // What is read back is what was answered.
  auto page = this->read_after("lobby", 0, 10);
  ASSERT_EQ(page.messages.size(), 1u);
  EXPECT_EQ(page.messages[0].seq, m.seq);
  EXPECT_EQ(page.messages[0].msg_id, m.msg_id);
  EXPECT_EQ(page.messages[0].ts, m.ts);
  EXPECT_EQ(page.messages[0].from, "bob");
  EXPECT_EQ(page.messages[0].text, "hi there");
  EXPECT_EQ(page.messages[0].client_msg_id, "c-1");
}

TYPED_TEST(StorageContractTest, MessageIdsAreUnique) {
  std::set<std::string> ids;
  for (int i = 0; i < 50; ++i) ids.insert(this->append_ok(i % 2 ? "a" : "b").msg_id);
  EXPECT_EQ(ids.size(), 50u);
}

TYPED_TEST(StorageContractTest, ArbitraryTextSurvivesTheRoundTrip) {
  std::string text = "quote ' \" percent % nul-free \xe2\x9c\x93 newline\n tab\t";
  this->append_ok("lobby", text);
  auto page = this->read_after("lobby", 0, 1);
  ASSERT_EQ(page.messages.size(), 1u);
  EXPECT_EQ(page.messages[0].text, text);
  EXPECT_TRUE(page.messages[0].client_msg_id.empty());
}

TYPED_TEST(StorageContractTest, SameClientMsgIdReturnsTheFirstResultAndStoresNothing) {
  auto first = this->append("lobby", "alice", "original", "c-1");
  ASSERT_TRUE(first.ok());
  this->clock->advance(10'000);
  auto again = this->append("lobby", "alice", "retry with other text", "c-1");
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(again->message.seq, first->message.seq);
  EXPECT_EQ(again->message.msg_id, first->message.msg_id);
  EXPECT_EQ(again->message.ts, first->message.ts);
  EXPECT_EQ(again->message.room, "lobby");
  EXPECT_EQ(again->message.from, "alice");
  if constexpr (TypeParam::kDuplicateHasText) {
    EXPECT_EQ(again->message.text, "original");
  }
  EXPECT_EQ(this->head("lobby"), first->message.seq);
  auto page = this->read_after("lobby", 0, 10);  // stored once, as first sent
  ASSERT_EQ(page.messages.size(), 1u);
  EXPECT_EQ(page.messages[0].text, "original");
  auto next = this->append_ok("lobby").seq;  // and the next seq is not burnt
  EXPECT_GT(next, first->message.seq);
  if constexpr (TypeParam::kConsecutiveSeqs) {
    EXPECT_EQ(next, 2);
  }
}

TYPED_TEST(StorageContractTest, ClientMsgIdIsPerSenderAndRoom) {
  auto first = this->append("lobby", "alice", "a", "c-1");
  ASSERT_TRUE(first.ok());
  auto other_sender = this->append("lobby", "bob", "b", "c-1");
  auto other_room = this->append("den", "alice", "c", "c-1");
  ASSERT_TRUE(other_sender.ok());
  ASSERT_TRUE(other_room.ok());
  EXPECT_FALSE(other_sender->duplicate);
  EXPECT_FALSE(other_room->duplicate);
  EXPECT_GT(other_sender->message.seq, first->message.seq);
  EXPECT_EQ(this->read_after("lobby", 0, 10).messages.size(), 2u);
  EXPECT_EQ(this->read_after("den", 0, 10).messages.size(), 1u);
  if constexpr (TypeParam::kConsecutiveSeqs) {
    EXPECT_EQ(other_sender->message.seq, 2);
    EXPECT_EQ(other_room->message.seq, 1);
  }
}

TYPED_TEST(StorageContractTest, MessagesWithoutClientMsgIdAreNeverDuplicates) {
  auto a = this->append("lobby", "alice", "same");
  auto b = this->append("lobby", "alice", "same");
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  EXPECT_FALSE(b->duplicate);
  EXPECT_GT(b->message.seq, a->message.seq);
  if constexpr (TypeParam::kConsecutiveSeqs) {
    EXPECT_EQ(b->message.seq, 2);
  }
}

TYPED_TEST(StorageContractTest, AnExpiredDeadlineIsNeverStoredAndAnswersTimeout) {
  this->ensure_room("lobby");
  auto deadline = std::make_shared<Deadline>(this->steady_now());  // due now
  auto r = this->append("lobby", "alice", "too late", "c-late", deadline);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::timeout);
  EXPECT_TRUE(deadline->expired());
  EXPECT_EQ(this->head("lobby"), 0);
  EXPECT_TRUE(this->read_after("lobby", 0, 10).messages.empty());
  // The seq was not burnt and the client_msg_id not taken.
  auto retry = this->append("lobby", "alice", "in time", "c-late");
  ASSERT_TRUE(retry.ok());
  EXPECT_FALSE(retry->duplicate);
  EXPECT_EQ(this->head("lobby"), retry->message.seq);
  EXPECT_EQ(this->read_after("lobby", 0, 10).messages.size(), 1u);
  if constexpr (TypeParam::kConsecutiveSeqs) {
    EXPECT_EQ(retry->message.seq, 1);
  }
}

TYPED_TEST(StorageContractTest, ADeadlineTheTimerExpiredFirstIsNeverStored) {
  auto deadline = std::make_shared<Deadline>(this->steady_now() + 60'000);
  ASSERT_TRUE(deadline->expire());  // the timer won the race
  auto r = this->append("lobby", "alice", "expired", "", deadline);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::timeout);
  EXPECT_EQ(this->head("lobby"), 0);
}

TYPED_TEST(StorageContractTest, AFutureDeadlineIsClaimedAndStored) {
  auto deadline = std::make_shared<Deadline>(this->steady_now() + 60'000);
  auto r = this->append("lobby", "alice", "in time", "", deadline);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE(deadline->expire());  // claimed: the timer must not answer `timeout` now
  EXPECT_EQ(this->head("lobby"), r->message.seq);
}

TYPED_TEST(StorageContractTest, RoomChangesPastTheirDeadlineAreNeverAppliedAndAnswerTimeout) {
  ASSERT_TRUE(
      this->create_room(Room{"secret", RoomKind::private_room, "alice", 1, {"alice"}}, false).ok());
  size_t fed = this->env.changes.size();
  auto due = [this] { return std::make_shared<Deadline>(this->steady_now()); };
  auto created =
      this->create_room(Room{"late", RoomKind::public_room, "alice", 2, {"alice"}}, false, due());
  auto dm = this->create_room(Room{"dm:a:b", RoomKind::direct, "a", 3, {"a", "b"}}, true, due());
  auto invited = this->add_member("secret", "bob", "alice", due());
  for (const Status* st : {&created, &dm, &invited}) {
    ASSERT_FALSE(st->ok());
    EXPECT_EQ(st->error().code, Errc::timeout) << st->error().message;
  }
  EXPECT_FALSE(this->loaded_room("late").has_value());
  EXPECT_FALSE(this->loaded_room("dm:a:b").has_value());
  EXPECT_EQ(this->loaded_room("secret")->members, std::set<std::string>{"alice"});
  EXPECT_EQ(this->env.changes.size(), fed) << "a change that was not applied reached the feed";
  // Claimed in time, they apply as without a deadline (and the timer can no longer answer).
  auto in_time = std::make_shared<Deadline>(this->steady_now() + 60'000);
  ASSERT_TRUE(this->add_member("secret", "bob", "alice", in_time).ok());
  EXPECT_FALSE(in_time->expire());
  EXPECT_EQ(this->loaded_room("secret")->members, (std::set<std::string>{"alice", "bob"}));
}

// ---- HistoryStore ---------------------------------------------------------------------------

TYPED_TEST(StorageContractTest, ReadAfterPagesForwardWithHasMore) {
  auto s = this->append_n("lobby", 5);
  this->append_ok("other");
  ASSERT_TRUE(this->strictly_increasing(s));
  if constexpr (TypeParam::kConsecutiveSeqs) {
    EXPECT_EQ(s, this->range(1, 5));
  }

  auto p1 = this->read_after("lobby", 0, 2);
  EXPECT_EQ(this->seqs(p1), this->slice(s, 0, 1));
  EXPECT_TRUE(p1.has_more);
  ASSERT_FALSE(p1.messages.empty());
  EXPECT_EQ(p1.messages[0].text, "m1");
  auto p2 = this->read_after("lobby", s[1], 2);
  EXPECT_EQ(this->seqs(p2), this->slice(s, 2, 3));
  EXPECT_TRUE(p2.has_more);
  auto p3 = this->read_after("lobby", s[3], 2);
  EXPECT_EQ(this->seqs(p3), this->slice(s, 4, 4));
  EXPECT_FALSE(p3.has_more);
  auto p4 = this->read_after("lobby", s[4], 2);
  EXPECT_TRUE(p4.messages.empty());
  EXPECT_FALSE(p4.has_more);
  auto between = this->read_after("lobby", s[2] - 1, 1);  // any seq may be a cursor
  EXPECT_EQ(this->seqs(between), this->slice(s, 2, 2));

  auto exact = this->read_after("lobby", 0, 5);  // exactly what is left: no more
  EXPECT_EQ(this->seqs(exact), s);
  EXPECT_FALSE(exact.has_more);
  for (const auto& m : exact.messages) EXPECT_EQ(m.room, "lobby");
}

TYPED_TEST(StorageContractTest, ReadBeforePagesBackwardOldestFirst) {
  auto s = this->append_n("lobby", 5);
  this->append_ok("other");

  auto newest = this->read_before("lobby", 0, 2);  // 0: from the newest
  EXPECT_EQ(this->seqs(newest), this->slice(s, 3, 4));
  EXPECT_TRUE(newest.has_more);
  auto mid = this->read_before("lobby", s[3], 2);  // exclusive
  EXPECT_EQ(this->seqs(mid), this->slice(s, 1, 2));
  EXPECT_TRUE(mid.has_more);
  auto oldest = this->read_before("lobby", s[1], 2);
  EXPECT_EQ(this->seqs(oldest), this->slice(s, 0, 0));
  EXPECT_FALSE(oldest.has_more);

  auto exact = this->read_before("lobby", s[2], 2);  // exactly the first two left
  EXPECT_EQ(this->seqs(exact), this->slice(s, 0, 1));
  EXPECT_FALSE(exact.has_more);
  auto beyond = this->read_before("lobby", s[4] + 1000, 3);
  EXPECT_EQ(this->seqs(beyond), this->slice(s, 2, 4));
  EXPECT_TRUE(this->read_before("lobby", s[0], 10).messages.empty());
  EXPECT_TRUE(this->read_before("empty", 0, 10).messages.empty());
  EXPECT_TRUE(this->read_after("empty", 0, 10).messages.empty());
}

TYPED_TEST(StorageContractTest, TheSinkGetsEveryCommittedMessageOnce) {
  std::vector<Message> appended;
  appended.push_back(this->append_ok("a", "one"));
  appended.push_back(this->append_ok("b", "two"));
  auto first = this->append("a", "alice", "three", "c-3");
  ASSERT_TRUE(first.ok());
  appended.push_back(first->message);
  ASSERT_TRUE(this->append("a", "alice", "three again", "c-3").ok());  // duplicate: not new
  auto late = std::make_shared<Deadline>(0);
  ASSERT_FALSE(this->append("a", "alice", "expired", "", late).ok());  // never committed

  ASSERT_TRUE(this->committed.wait_for(appended.size()));
  this->env.drain();
  auto got = this->committed.messages();
  ASSERT_EQ(got.size(), appended.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].room, appended[i].room);
    EXPECT_EQ(got[i].seq, appended[i].seq);
    EXPECT_EQ(got[i].msg_id, appended[i].msg_id);
    EXPECT_EQ(got[i].text, appended[i].text);
    EXPECT_EQ(got[i].ts, appended[i].ts);
    EXPECT_EQ(got[i].client_msg_id, appended[i].client_msg_id);
  }
}

TYPED_TEST(StorageContractTest, ConcurrentAppendsFromManyThreadsGetDistinctOrderedSeqs) {
  constexpr int kThreads = 4;
  constexpr int kBusyPerThread = 100;
  constexpr int kQuietPerThread = 25;
  constexpr int kTotal = kThreads * (kBusyPerThread + kQuietPerThread);
  this->ensure_room("busy");
  this->ensure_room("quiet");
  std::mutex mutex;
  std::map<std::string, std::vector<int64_t>> seqs;
  std::set<std::string> msg_ids;
  int failures = 0;
  Latch done(kTotal);

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kBusyPerThread + kQuietPerThread; ++i) {
        std::string room = i < kBusyPerThread ? "busy" : "quiet";
        AppendRequest req{room, "user" + std::to_string(t), "m" + std::to_string(i), "", nullptr};
        this->env.log().append(std::move(req), [&](Result<Appended> r) {
          {
            std::lock_guard lock(mutex);
            if (r.ok()) {
              seqs[r->message.room].push_back(r->message.seq);
              msg_ids.insert(r->message.msg_id);
            } else {
              ++failures;
            }
          }
          done.count_down();
        });
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_TRUE(done.wait()) << "not every append was answered";

  std::lock_guard lock(mutex);
  EXPECT_EQ(failures, 0);
  auto& busy = seqs["busy"];
  auto& quiet = seqs["quiet"];
  std::sort(busy.begin(), busy.end());
  std::sort(quiet.begin(), quiet.end());
  ASSERT_EQ(busy.size(), static_cast<size_t>(kThreads * kBusyPerThread));
  ASSERT_EQ(quiet.size(), static_cast<size_t>(kThreads * kQuietPerThread));
  EXPECT_TRUE(this->strictly_increasing(busy)) << "two messages got one seq";
  EXPECT_TRUE(this->strictly_increasing(quiet)) << "two messages got one seq";
  if constexpr (TypeParam::kConsecutiveSeqs) {
    EXPECT_EQ(busy, this->range(1, kThreads * kBusyPerThread));
    EXPECT_EQ(quiet, this->range(1, kThreads * kQuietPerThread));
  }
  EXPECT_EQ(msg_ids.size(), static_cast<size_t>(kTotal));
  EXPECT_EQ(this->head("busy"), busy.back());

  // Each sender's own messages keep the order in which that sender appended them.
  auto page = this->read_after("busy", 0, kThreads * kBusyPerThread);
  ASSERT_EQ(page.messages.size(), static_cast<size_t>(kThreads * kBusyPerThread));
  EXPECT_EQ(this->seqs(page), busy);
  std::map<std::string, int> last_index;
  for (const auto& m : page.messages) {
    int index = std::stoi(m.text.substr(1));
    auto it = last_index.find(m.from);
    if (it != last_index.end()) {
      EXPECT_LT(it->second, index) << m.from;
    }
    last_index[m.from] = index;
  }

  ASSERT_TRUE(this->committed.wait_for(kTotal));
  this->env.drain();
  std::set<std::pair<std::string, int64_t>> positions;
  for (const auto& m : this->committed.messages()) positions.insert({m.room, m.seq});
  EXPECT_EQ(this->committed.messages().size(), static_cast<size_t>(kTotal));
  EXPECT_EQ(positions.size(), static_cast<size_t>(kTotal));
}

TYPED_TEST(StorageContractTest, TheEpochIsNamedAndStable) {
  std::string epoch = this->env.log().epoch();
  EXPECT_FALSE(epoch.empty());
  this->append_ok("lobby");
  EXPECT_EQ(this->env.log().epoch(), epoch);
}

TYPED_TEST(StorageContractTest, WhoMaySendAndInviteIsTheLogsOrTheCallersToCheck) {
  ASSERT_TRUE(
      this->create_room(
              Room{
                  "secret", RoomKind::private_room, "alice", this->env.clock().now_ms(), {"alice"}},
              false)
          .ok());
  auto to_nowhere = this->append_raw("nowhere", "alice", "hello?");
  auto by_stranger = this->append_raw("secret", "mallory", "let me in");
  auto invited_by_stranger = this->add_member("secret", "eve", "mallory");
  auto by_member = this->append_raw("secret", "alice", "hi");
  ASSERT_TRUE(by_member.ok());
  if constexpr (TypeParam::kLogDecidesAccess) {
    ASSERT_FALSE(to_nowhere.ok());
    EXPECT_EQ(to_nowhere.error().code, Errc::not_found);
    ASSERT_FALSE(by_stranger.ok());
    EXPECT_EQ(by_stranger.error().code, Errc::forbidden);
    ASSERT_FALSE(invited_by_stranger.ok());
    EXPECT_EQ(invited_by_stranger.error().code, Errc::forbidden);
    EXPECT_EQ(this->head("nowhere"), 0);
    EXPECT_EQ(this->seqs(this->read_after("secret", 0, 10)),
              std::vector<int64_t>{by_member->message.seq});
  } else {
    // The use cases check the directory before they call the port; the store takes the word.
    EXPECT_TRUE(to_nowhere.ok());
    EXPECT_TRUE(by_stranger.ok());
    EXPECT_TRUE(invited_by_stranger.ok());
    EXPECT_EQ(this->read_after("secret", 0, 10).messages.size(), 2u);
  }
}

// ---- RoomStore ------------------------------------------------------------------------------
// Rooms are created as the use cases create them: a room's members are its creator, a dm's its
// two users; the others join by invitation.

TYPED_TEST(StorageContractTest, ACreatedRoomLoadsBackWithItsMembers) {
  Room room{"secret", RoomKind::private_room, "alice", 1'700'000'000'000, {"alice"}};
  ASSERT_TRUE(this->create_room(room, false).ok());
  ASSERT_TRUE(this->add_member("secret", "bob").ok());
  ASSERT_TRUE(this->create_room(Room{"dm:a:b", RoomKind::direct, "a", 5, {"a", "b"}}, false).ok());
  auto loaded = this->loaded_room("secret");
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(loaded->kind, RoomKind::private_room);
  EXPECT_EQ(loaded->created_by, "alice");
  if constexpr (TypeParam::kCallerTimes) {
    EXPECT_EQ(loaded->created_at, 1'700'000'000'000);
  } else {
    EXPECT_GT(loaded->created_at, 1'700'000'000'000);  // the broker's clock: now
  }
  EXPECT_EQ(loaded->members, (std::set<std::string>{"alice", "bob"}));
  auto dm = this->loaded_room("dm:a:b");
  ASSERT_TRUE(dm.has_value());
  EXPECT_EQ(dm->kind, RoomKind::direct);
  EXPECT_EQ(dm->members, (std::set<std::string>{"a", "b"}));
  EXPECT_EQ(this->env.load_rooms().size(), 2u);
}

TYPED_TEST(StorageContractTest, CreatingAnExistingRoomIsAConflictAndKeepsTheFirst) {
  ASSERT_TRUE(
      this->create_room(Room{"lobby", RoomKind::public_room, "alice", 1, {"alice"}}, false).ok());
  auto again = this->create_room(Room{"lobby", RoomKind::private_room, "bob", 2, {"bob"}}, false);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, Errc::conflict);
  auto loaded = this->loaded_room("lobby");
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(loaded->kind, RoomKind::public_room);
  EXPECT_EQ(loaded->created_by, "alice");
  EXPECT_EQ(loaded->members, std::set<std::string>{"alice"});
}

TYPED_TEST(StorageContractTest, IfAbsentKeepsTheExistingRoomAndSucceeds) {
  ASSERT_TRUE(this->create_room(Room{"dm:a:b", RoomKind::direct, "a", 1, {"a", "b"}}, true).ok());
  auto first = this->loaded_room("dm:a:b");
  ASSERT_TRUE(first.has_value());
  EXPECT_TRUE(this->create_room(Room{"dm:a:b", RoomKind::direct, "b", 2, {"a", "b"}}, true).ok());
  auto loaded = this->loaded_room("dm:a:b");
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(loaded->created_by, "a");
  EXPECT_EQ(loaded->created_at, first->created_at);
  if constexpr (TypeParam::kCallerTimes) {
    EXPECT_EQ(loaded->created_at, 1);
  }
}

TYPED_TEST(StorageContractTest, AddMemberIsDurableAndIdempotent) {
  ASSERT_TRUE(
      this->create_room(Room{"secret", RoomKind::private_room, "alice", 1, {"alice"}}, false).ok());
  EXPECT_TRUE(this->add_member("secret", "bob").ok());
  EXPECT_TRUE(this->add_member("secret", "bob").ok());
  EXPECT_TRUE(this->add_member("secret", "carol", "bob").ok());  // a member may invite
  auto loaded = this->loaded_room("secret");
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(loaded->members, (std::set<std::string>{"alice", "bob", "carol"}));
}

TYPED_TEST(StorageContractTest, TheChangeFeedHearsEveryChangeBeforeItsCallerAndNothingElse) {
  auto& changes = this->env.changes;
  Room lobby{"lobby", RoomKind::public_room, "alice", 1, {"alice"}};
  size_t fed_before_answer = 0;
  ASSERT_TRUE(await<Status>([&](auto done) {
                this->env.rooms().create_room(lobby, false, nullptr, [&, done](Status st) {
                  fed_before_answer = changes.size();
                  done(std::move(st));
                });
              }).ok());
  EXPECT_EQ(fed_before_answer, 1u);
  // A conflict, a dm that exists already and a failed add change nothing: nothing is fed.
  EXPECT_FALSE(
      this->create_room(Room{"lobby", RoomKind::public_room, "bob", 2, {"bob"}}, false).ok());
  ASSERT_TRUE(this->create_room(Room{"dm:a:b", RoomKind::direct, "a", 3, {"a", "b"}}, true).ok());
  ASSERT_TRUE(this->create_room(Room{"dm:a:b", RoomKind::direct, "b", 4, {"a", "b"}}, true).ok());
  EXPECT_FALSE(this->add_member("nowhere", "bob").ok());
  size_t fed_before_add = 0;
  ASSERT_TRUE(await<Status>([&](auto done) {
                this->env.rooms().add_member("lobby", "carol", "alice", nullptr,
                                             [&, done](Status st) {
                                               fed_before_add = changes.size();
                                               done(std::move(st));
                                             });
              }).ok());
  EXPECT_EQ(fed_before_add, 3u);
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_EQ(changes.seen[0].kind, RoomChange::Kind::room_created);
  EXPECT_EQ(changes.seen[0].room.name, "lobby");
  EXPECT_EQ(changes.seen[0].room.members, std::set<std::string>{"alice"});
  EXPECT_EQ(changes.seen[1].kind, RoomChange::Kind::room_created);
  EXPECT_EQ(changes.seen[1].room.name, "dm:a:b");
  EXPECT_EQ(changes.seen[1].room.kind, RoomKind::direct);
  EXPECT_EQ(changes.seen[1].room.created_by, "a");
  EXPECT_EQ(changes.seen[1].room.members, (std::set<std::string>{"a", "b"}));
  EXPECT_EQ(changes.seen[2].kind, RoomChange::Kind::member_added);
  EXPECT_EQ(changes.seen[2].room.name, "lobby");
  EXPECT_EQ(changes.seen[2].member, "carol");
}

TYPED_TEST(StorageContractTest, AddMemberToAnUnknownRoomFails) {
  EXPECT_FALSE(this->add_member("nowhere", "bob").ok());
  EXPECT_FALSE(this->loaded_room("nowhere").has_value());
}

// ---- UserStore ------------------------------------------------------------------------------

TYPED_TEST(StorageContractTest, UsersAreCreatedOnceAndFound) {
  EXPECT_EQ(this->find_user("alice"), std::nullopt);
  ASSERT_TRUE(this->create_user("alice", "hash-1").ok());
  EXPECT_EQ(this->find_user("alice"), std::optional<std::string>("hash-1"));
  auto again = this->create_user("alice", "hash-2");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, Errc::conflict);
  EXPECT_EQ(this->find_user("alice"), std::optional<std::string>("hash-1"));
  EXPECT_EQ(this->find_user("Alice"), std::nullopt);  // names are case-sensitive
}

// ---- the cluster only: history behind a persister ------------------------------------------

class ClusterHistoryTest : public StorageContractTest<ClusterEnv> {
 protected:
  // Runs a persister until @p count messages of @p room are in PostgreSQL, then stops it.
  void persist_until(const std::string& room, int64_t count) {
    PersisterOptions options;
    options.kafka = env.kafka();
    options.dedupe_window = ClusterEnv::kDedupeWindow;
    options.poll_ms = 50;
    Persister persister(options, env.store());
    std::atomic<bool> stop{false};
    std::thread thread([&] { persister.run(stop, {}); });
    std::string sql = "SELECT count(*) FROM messages WHERE room = '" + room + "'";
    bool stored =
        pgtest::eventually([&] { return pgtest::query_int(env.conninfo(), sql) >= count; }, 60s);
    stop = true;
    thread.join();
    ASSERT_TRUE(stored) << "the persister did not store " << count << " messages in 60 s";
  }
};

TEST_F(ClusterHistoryTest, HistoryComesFromPostgresUpToThePersisterAndFromTheLogPastIt) {
  std::vector<int64_t> s;
  for (int i = 1; i <= 3; ++i) {
    auto r = append("lobby", "alice", "m" + std::to_string(i), "c-" + std::to_string(i));
    ASSERT_TRUE(r.ok()) << r.error().message;
    s.push_back(r->message.seq);
  }
  ASSERT_NO_FATAL_FAILURE(persist_until("lobby", 3));
  EXPECT_EQ(pgtest::query_int(env.conninfo(), "SELECT count(*) FROM rooms WHERE name = 'lobby'"),
            1);
  auto more = append_n("lobby", 3);  // m1..m3 again: only in the log
  s.insert(s.end(), more.begin(), more.end());
  ASSERT_TRUE(strictly_increasing(s));

  // Forward: the stored part, then the log's, in one order; pages cross the boundary.
  auto all = read_after("lobby", 0, 10);
  EXPECT_EQ(seqs(all), s);
  EXPECT_FALSE(all.has_more);
  ASSERT_EQ(all.messages.size(), 6u);
  EXPECT_EQ(all.messages[2].text, "m3");
  EXPECT_EQ(all.messages[2].client_msg_id, "c-3");
  EXPECT_EQ(all.messages[3].text, "m1");
  auto across = read_after("lobby", s[1], 2);
  EXPECT_EQ(seqs(across), slice(s, 2, 3));
  EXPECT_TRUE(across.has_more);
  auto stored_only = read_after("lobby", 0, 2);
  EXPECT_EQ(seqs(stored_only), slice(s, 0, 1));
  EXPECT_TRUE(stored_only.has_more);
  // Backward likewise.
  auto newest = read_before("lobby", 0, 4);
  EXPECT_EQ(seqs(newest), slice(s, 2, 5));
  EXPECT_TRUE(newest.has_more);
  auto older = read_before("lobby", s[3], 10);
  EXPECT_EQ(seqs(older), slice(s, 0, 2));
  EXPECT_FALSE(older.has_more);

  // An instance started now loads the stored part as its snapshot, folds the rest from the
  // log, and still knows the first sends' client_msg_ids (the window comes from PostgreSQL).
  env.restart(committed);
  EXPECT_EQ(head("lobby"), s.back());
  auto repeat = append("lobby", "alice", "m2 again", "c-2");
  ASSERT_TRUE(repeat.ok()) << repeat.error().message;
  EXPECT_TRUE(repeat->duplicate);
  EXPECT_EQ(repeat->message.seq, s[1]);
  auto room = loaded_room("lobby");
  ASSERT_TRUE(room.has_value());
  EXPECT_EQ(room->created_by, "alice");
  EXPECT_EQ(seqs(read_after("lobby", 0, 10)), s);
}

// Code review (issue 14): a read past the persister served refused, duplicate or expired records
// when the persister moved on while the read was in flight (the index of offsets that were not
// messages was trimmed under it). A read now takes the exact offsets of its messages from the
// fold's index before it reads the log: what the persister does meanwhile cannot change them.
TEST_F(ClusterHistoryTest, ADuplicateIsNeverServedWhenThePersisterMovesOnDuringARead) {
  std::vector<int64_t> s = append_n("lobby", 2);
  ASSERT_NO_FATAL_FAILURE(persist_until("lobby", 2));
  for (int i = 0; i < 3; ++i) {  // past the persister: each message, then a duplicate of it
    std::string id = "dup-" + std::to_string(i);
    auto r = append("lobby", "alice", "x" + std::to_string(i), id);
    ASSERT_TRUE(r.ok()) << r.error().message;
    s.push_back(r->message.seq);
    auto again = append("lobby", "alice", "x again", id);
    ASSERT_TRUE(again.ok()) << again.error().message;
    ASSERT_TRUE(again->duplicate);
  }
  auto& log = dynamic_cast<ClusterLog&>(env.history());
  std::atomic<int> hooked{0};
  log.set_read_hook([&] {
    if (hooked++ > 0) return;
    // While this read is between PostgreSQL and the log: the persister stores everything, and
    // the sweeper (once a second) trims the index to it.
    persist_until("lobby", 5);
    std::this_thread::sleep_for(2500ms);
  });
  auto page = read_after("lobby", 0, 50);
  log.set_read_hook({});
  EXPECT_GE(hooked.load(), 1);
  EXPECT_EQ(seqs(page), s) << "a duplicate or a missing message";
  EXPECT_FALSE(page.has_more);
  // And after the trim, PostgreSQL serves all of it.
  EXPECT_EQ(seqs(read_after("lobby", 0, 50)), s);
  EXPECT_EQ(seqs(read_before("lobby", 0, 50)), s);
}

// ---- the SQLite storage only --------------------------------------------------------------------

class SqliteStorageTest : public ::testing::Test {
 protected:
  std::unique_ptr<SqliteStorage> open(size_t max_batch = 4096) {
    SqliteOptions options{dir.file("parley.db")};
    options.max_batch = max_batch;
    auto storage = std::make_unique<SqliteStorage>(options, clock);
    storage->on_committed(committed.sink());
    return storage;
  }
  // Queues @p n appends (before start, they all wait for one writer pass).
  std::shared_ptr<Latch> queue_appends(SqliteStorage& s, int n, std::vector<int64_t>& out,
                                       std::mutex& mutex, const std::string& client_msg_id = "") {
    auto latch = std::make_shared<Latch>(n);
    for (int i = 0; i < n; ++i) {
      s.append(AppendRequest{"lobby", "alice", "m" + std::to_string(i), client_msg_id, nullptr},
               [&out, &mutex, latch](Result<Appended> r) {
                 {
                   std::lock_guard lock(mutex);
                   out.push_back(r.ok() ? r->message.seq : -1);
                 }
                 latch->count_down();
               });
    }
    return latch;
  }

  TempDir dir;
  std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>();
  Committed committed;
};

TEST_F(SqliteStorageTest, AppendsQueuedTogetherCommitInOneTransaction) {
  auto storage = open();
  std::vector<int64_t> seqs;
  std::mutex mutex;
  auto latch = queue_appends(*storage, 50, seqs, mutex);
  uint64_t commits_before = Metrics::global().commits_total.load();
  storage->start();
  ASSERT_TRUE(latch->wait());
  storage->stop();
  EXPECT_EQ(Metrics::global().commits_total.load() - commits_before, 1u);
  EXPECT_EQ(committed.calls(), 1);  // one batch, one call of the sink
  std::sort(seqs.begin(), seqs.end());
  std::vector<int64_t> expected(50);
  std::iota(expected.begin(), expected.end(), 1);
  EXPECT_EQ(seqs, expected);
}

TEST_F(SqliteStorageTest, ABatchIsCappedAtMaxBatch) {
  auto storage = open(10);
  std::vector<int64_t> seqs;
  std::mutex mutex;
  auto latch = queue_appends(*storage, 25, seqs, mutex);
  uint64_t commits_before = Metrics::global().commits_total.load();
  storage->start();
  ASSERT_TRUE(latch->wait());
  storage->stop();
  EXPECT_EQ(Metrics::global().commits_total.load() - commits_before, 3u);
  EXPECT_EQ(committed.calls(), 3);
  EXPECT_EQ(seqs.size(), 25u);
  EXPECT_EQ(*std::max_element(seqs.begin(), seqs.end()), 25);
}

TEST_F(SqliteStorageTest, DuplicatesInsideOneBatchStoreOnce) {
  auto storage = open();
  std::vector<int64_t> seqs;
  std::mutex mutex;
  auto latch = queue_appends(*storage, 3, seqs, mutex, "same-id");
  storage->start();
  ASSERT_TRUE(latch->wait());
  EXPECT_EQ(seqs, (std::vector<int64_t>{1, 1, 1}));
  storage->stop();
  EXPECT_EQ(committed.messages().size(), 1u);
}

TEST_F(SqliteStorageTest, StopAnswersEverythingAlreadyQueued) {
  auto storage = open();
  storage->start();
  std::vector<int64_t> seqs;
  std::mutex mutex;
  auto latch = queue_appends(*storage, 20, seqs, mutex);
  storage->stop();  // no waiting first
  std::lock_guard lock(mutex);
  EXPECT_EQ(seqs.size(), 20u);
  EXPECT_EQ(std::count(seqs.begin(), seqs.end(), -1), 0);
}

TEST_F(SqliteStorageTest, DataSurvivesCloseAndReopenInTheSameEpoch) {
  std::string epoch;
  std::string msg_id;
  {
    auto storage = open();
    storage->start();
    epoch = storage->epoch();
    for (int i = 1; i <= 3; ++i) {
      auto r = await<Result<Appended>>([&](auto done) {
        storage->append(AppendRequest{"lobby", "alice", "m" + std::to_string(i),
                                      "c-" + std::to_string(i), nullptr},
                        done);
      });
      ASSERT_TRUE(r.ok());
      msg_id = r->message.msg_id;
    }
    ASSERT_TRUE(await<Status>([&](auto done) {
                  storage->create_room(Room{"lobby", RoomKind::private_room, "alice", 7, {"alice"}},
                                       false, nullptr, done);
                }).ok());
    ASSERT_TRUE(await<Status>([&](auto done) { storage->create_user("alice", "h", done); }).ok());
  }  // closed

  auto storage = open();
  EXPECT_EQ(storage->epoch(), epoch);
  auto rooms = storage->load_rooms();
  ASSERT_EQ(rooms.size(), 1u);
  EXPECT_EQ(rooms[0].name, "lobby");
  EXPECT_EQ(rooms[0].kind, RoomKind::private_room);
  EXPECT_EQ(rooms[0].members, std::set<std::string>{"alice"});
  storage->start();

  auto page = await<Result<Page>>([&](auto done) { storage->read_after("lobby", 0, 10, done); });
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->messages.size(), 3u);
  EXPECT_EQ(page->messages[2].msg_id, msg_id);
  EXPECT_EQ(page->messages[2].text, "m3");
  auto user = await<Result<std::optional<std::string>>>(
      [&](auto done) { storage->find_user("alice", done); });
  ASSERT_TRUE(user.ok());
  EXPECT_EQ(*user, std::optional<std::string>("h"));

  // The log continues where it stopped, and remembers client_msg_ids.
  auto next = await<Result<Appended>>([&](auto done) {
    storage->append(AppendRequest{"lobby", "alice", "m4", "", nullptr}, done);
  });
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->message.seq, 4);
  auto dup = await<Result<Appended>>([&](auto done) {
    storage->append(AppendRequest{"lobby", "alice", "again", "c-2", nullptr}, done);
  });
  ASSERT_TRUE(dup.ok());
  EXPECT_TRUE(dup->duplicate);
  EXPECT_EQ(dup->message.seq, 2);
}

TEST_F(SqliteStorageTest, ADifferentDatabaseHasADifferentEpoch) {
  TempDir other_dir;
  auto a = open();
  SqliteStorage b(SqliteOptions{other_dir.file("other.db")}, clock);
  EXPECT_NE(a->epoch(), b.epoch());
}

TEST_F(SqliteStorageTest, DeadLettersAreRecordedDurably) {
  {
    auto storage = open();
    storage->start();
    storage->record(
        DeadLetter{"sess-0001", "alice", "send", R"({"type":"send"})", "timeout", 1234});
  }  // stop drains the queue
  sqlite::Db db(dir.file("parley.db"), true);
  sqlite::StmtRef s = db.prepare("SELECT session, user, op, payload, reason, at FROM dead_letters");
  ASSERT_TRUE(s);
  ASSERT_EQ(s->step(), SQLITE_ROW);
  EXPECT_EQ(s->text(0), "sess-0001");
  EXPECT_EQ(s->text(1), "alice");
  EXPECT_EQ(s->text(2), "send");
  EXPECT_EQ(s->text(3), R"({"type":"send"})");
  EXPECT_EQ(s->text(4), "timeout");
  EXPECT_EQ(s->int64(5), 1234);
  EXPECT_EQ(s->step(), SQLITE_DONE);
}

TEST_F(SqliteStorageTest, AnUnopenableDatabaseThrowsAtStartUp) {
  EXPECT_THROW(SqliteStorage(SqliteOptions{dir.file("no/such/dir/parley.db")}, clock),
               std::runtime_error);
}

}  // namespace
}  // namespace parley
