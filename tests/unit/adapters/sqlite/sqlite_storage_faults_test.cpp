// The SQLite writer never misreports: a job is answered success if and only if it is in the log
// once its batch's transaction ended. Faults are injected through a test VFS at every stage of
// a batch (BEGIN, a spill of the page cache in the middle of many jobs, the commit's write and
// its fsync), then the database is reopened with the normal VFS and compared, row by row, with
// what was answered.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "adapters/sqlite/sqlite_db.h"
#include "adapters/sqlite/sqlite_storage.h"
#include "app/metrics.h"
#include "contract/storage_test_support.h"
#include "fakes/manual_clock.h"
#include "unit/adapters/sqlite/fault_vfs.h"
#include "unit/adapters/sqlite/storage_harness.h"

namespace parley {
namespace {

using fakes::ManualClock;
using testsupport::Answer;
using testsupport::Answers;
using testsupport::await;
using testsupport::Committed;
using testsupport::Gate;
using testsupport::TempDir;

// A faulty batch of `jobs` appends (plus a few other writes) with texts of `text_bytes`.
struct Scenario {
  const char* name;
  int jobs;
  size_t text_bytes;
  void (*arm)(fault::Faults&);
  const char* stage;  // the answers name the stage that failed
};

void PrintTo(const Scenario& s, std::ostream* os) {
  *os << s.name;
}

// ---- the log as it is on disk, read through the normal VFS ----------------------------------

struct Row {
  int64_t seq;
  std::string msg_id;
  std::string text;
};

class SqliteFaultTest : public ::testing::Test {
 protected:
  void SetUp() override { fault::faults().clear(); }
  void TearDown() override { fault::faults().clear(); }

  std::unique_ptr<SqliteStorage> open(bool faulty = true) {
    SqliteOptions options{dir.file("parley.db")};
    if (faulty) options.vfs = fault::vfs_name();
    auto storage = std::make_unique<SqliteStorage>(options, clock);
    storage->on_committed(committed.sink());
    return storage;
  }

  Result<Appended> append(SqliteStorage& s, const std::string& room, const std::string& text,
                          const std::string& client_msg_id = "") {
    return await<Result<Appended>>([&](auto done) {
      s.append(AppendRequest{room, "alice", text, client_msg_id, nullptr}, done);
    });
  }

  // Every row of @p room, through a storage opened with the default VFS.
  static std::vector<Row> rows(SqliteStorage& s, const std::string& room) {
    auto page = await<Result<Page>>([&](auto done) { s.read_after(room, 0, 1'000'000, done); });
    if (!page.ok()) throw std::runtime_error("read failed: " + page.error().message);
    std::vector<Row> out;
    for (auto& m : page->messages) out.push_back(Row{m.seq, m.msg_id, m.text});
    return out;
  }

  TempDir dir;
  std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>();
  Committed committed;
};

class BatchFaultTest : public SqliteFaultTest, public ::testing::WithParamInterface<Scenario> {};

std::string text_of(const std::string& key, size_t bytes) {
  std::string text = key + ":";
  text.resize(std::max(bytes, text.size()), 'x');
  return text;
}

TEST_P(BatchFaultTest, NoJobOfAFailedBatchIsAcknowledgedOrStoredAndTheLogGoesOnWithoutAGap) {
  const Scenario& sc = GetParam();
  const std::vector<std::string> rooms = {"a", "b"};
  std::map<std::string, std::vector<Message>> acked;  // room -> what was answered success

  auto storage = open();
  storage->start();
  // Before the fault: a few messages that must survive it.
  for (int i = 0; i < 6; ++i) {
    auto r = append(*storage, rooms[i % 2], "before-" + std::to_string(i),
                    "c-before-" + std::to_string(i));
    ASSERT_TRUE(r.ok()) << r.error().message;
    acked[r->message.room].push_back(r->message);
  }
  ASSERT_TRUE(await<Status>([&](auto done) {
                storage->create_room(Room{"old", RoomKind::public_room, "alice", 1, {"alice"}},
                                     false, nullptr, done);
              }).ok());
  ASSERT_TRUE(committed.wait_for(6));
  size_t published_before = committed.messages().size();
  uint64_t commits_before = Metrics::global().commits_total.load();

  // The faulty batch: queued while the writer is held, so that it is one batch, whole.
  Gate gate;
  ASSERT_TRUE(gate.hold_writer(*storage, "gate-user"));
  Answers answers;
  storage->create_room(Room{"born", RoomKind::public_room, "alice", 2, {"alice"}}, false, nullptr,
                       answers.status("room:born"));
  for (int i = 0; i < sc.jobs; ++i) {
    std::string key = "batch-" + std::to_string(i);
    DeadlinePtr deadline;  // claimed when applied; the claim stays, the answer is the error
    if (i % 5 == 0) deadline = std::make_shared<Deadline>(clock->steady_ms() + 60'000);
    storage->append(AppendRequest{rooms[i % 2], "alice", text_of(key, sc.text_bytes),
                                  i % 3 == 0 ? "c-" + key : "", deadline},
                    answers.append(key));
  }
  // A retry of a message stored before: a duplicate if the batch committed.
  storage->append(AppendRequest{"a", "alice", "again", "c-before-0", nullptr},
                  answers.append("dup"));
  storage->create_room(Room{"born", RoomKind::public_room, "bob", 3, {"bob"}}, false, nullptr,
                       answers.status("room:born-again"));  // a conflict inside the batch
  storage->create_user("carol", "hash", answers.status("user:carol"));
  storage->record(DeadLetter{"sess-0001", "alice", "send", "{}", "timeout", 1});

  int64_t injected_before = fault::faults().injected.load();
  sc.arm(fault::faults());
  gate.open();
  ASSERT_TRUE(answers.wait_all());
  EXPECT_GT(fault::faults().injected.load(), injected_before) << "no fault was injected";

  // Every job answered exactly once, none with success, all with a clear `unavailable`.
  bool stage_named = false;
  for (const auto& [key, a] : answers.all()) {
    EXPECT_EQ(a.count, 1) << key;
    EXPECT_FALSE(a.ok) << key << " was acknowledged by a batch that did not commit";
    if (a.ok) continue;
    EXPECT_EQ(a.error.code, Errc::unavailable) << key << ": " << a.error.message;
    if (a.error.message.find(sc.stage) != std::string::npos) stage_named = true;
  }
  EXPECT_TRUE(stage_named) << "no answer names the failed stage '" << sc.stage << "'";
  // No commit was counted but the gate's, and nothing reached the fan-out (checked below).
  EXPECT_EQ(Metrics::global().commits_total.load(), commits_before + 1);
  fault::faults().clear();

  // Once the fault is gone, the log goes on where it was: no seq skipped, none reused.
  for (int i = 0; i < 6; ++i) {
    auto r = append(*storage, rooms[i % 2], "after-" + std::to_string(i));
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->message.seq, static_cast<int64_t>(acked[r->message.room].size()) + 1);
    acked[r->message.room].push_back(r->message);
  }
  auto retry = append(*storage, "a", "again", "c-batch-0");  // its first try was not stored
  ASSERT_TRUE(retry.ok()) << retry.error().message;
  EXPECT_FALSE(retry->duplicate);
  acked["a"].push_back(retry->message);
  EXPECT_TRUE(await<Status>([&](auto done) {
                storage->create_room(Room{"born", RoomKind::public_room, "alice", 4, {"alice"}},
                                     false, nullptr, done);
              }).ok());
  EXPECT_TRUE(await<Status>([&](auto done) { storage->create_user("carol", "hash", done); }).ok());
  size_t published_after = 0;
  for (auto& [room, msgs] : acked) published_after += msgs.size();
  ASSERT_TRUE(committed.wait_for(published_after));
  storage->stop();
  EXPECT_EQ(published_before, 6u);
  EXPECT_EQ(committed.messages().size(), published_after)
      << "the fan-out got messages that were not acknowledged";
  storage.reset();

  // Reopened with the normal VFS: the log is exactly what was acknowledged, gap-free.
  auto reopened = open(false);
  reopened->start();
  for (const auto& room : rooms) {
    auto got = rows(*reopened, room);
    const auto& want = acked[room];
    ASSERT_EQ(got.size(), want.size()) << "room " << room;
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].seq, static_cast<int64_t>(i) + 1) << "room " << room;
      EXPECT_EQ(got[i].msg_id, want[i].msg_id) << "room " << room << " seq " << got[i].seq;
      EXPECT_EQ(got[i].text, want[i].text) << "room " << room << " seq " << got[i].seq;
    }
  }
  auto rooms_loaded = reopened->load_rooms();
  std::set<std::string> names;
  for (auto& r : rooms_loaded) names.insert(r.name);
  EXPECT_EQ(names, (std::set<std::string>{"old", "born"}));
  reopened.reset();
  sqlite::Db db(dir.file("parley.db"), true);
  sqlite::StmtRef letters = db.prepare("SELECT count(*) FROM dead_letters");
  ASSERT_TRUE(letters);
  ASSERT_EQ(letters->step(), SQLITE_ROW);
  EXPECT_EQ(letters->int64(0), 0) << "a dead letter of the failed batch was stored";
  sqlite::StmtRef users = db.prepare("SELECT name FROM users ORDER BY name");
  ASSERT_TRUE(users);
  std::vector<std::string> user_names;
  while (users->step() == SQLITE_ROW) user_names.push_back(users->text(0));
  EXPECT_EQ(user_names, (std::vector<std::string>{"carol", "gate-user"}));
}

const Scenario kScenarios[] = {
    {"BeginFails", 20, 16, [](fault::Faults& f) { f.begin_failures = 1; }, "begin"},
    {"DiskFullAtCommit", 20, 16,
     [](fault::Faults& f) {
       f.write_budget = 0;
       f.write_failures = -1;
     },
     "commit"},
    {"DiskFullOnceAtCommit", 20, 16,
     [](fault::Faults& f) {
       f.write_budget = 0;
       f.write_failures = 1;
     },
     "commit"},
    {"IoErrorOnceAtCommit", 20, 16,
     [](fault::Faults& f) {
       f.write_error = SQLITE_IOERR_WRITE;
       f.write_budget = 0;
       f.write_failures = 1;
     },
     "commit"},
    {"FsyncFailsAtCommit", 20, 16, [](fault::Faults& f) { f.sync_failures = 1; }, "commit"},
    // 3000 jobs of 2 KB pass the 2 MB page cache, so SQLite spills to the WAL mid-batch; the
    // spill fails and SQLite rolls the whole transaction back by itself.
    {"DiskFullOnceMidBatch", 3000, 2000,
     [](fault::Faults& f) {
       f.write_budget = 256 << 10;
       f.write_failures = 1;
     },
     "transaction"},
    {"IoErrorOnceMidBatch", 3000, 2000,
     [](fault::Faults& f) {
       f.write_error = SQLITE_IOERR_WRITE;
       f.write_budget = 256 << 10;
       f.write_failures = 1;
     },
     "transaction"},
    {"DiskFullMidBatch", 3000, 2000,
     [](fault::Faults& f) {
       f.write_budget = 256 << 10;
       f.write_failures = -1;
     },
     "transaction"},
};

INSTANTIATE_TEST_SUITE_P(Stages, BatchFaultTest, ::testing::ValuesIn(kScenarios),
                         [](const ::testing::TestParamInfo<Scenario>& info) {
                           return std::string(info.param.name);
                         });

// A job that fails on its own rolls back to its savepoint; the rest of the batch commits.
TEST_F(SqliteFaultTest, AJobThatFailsAloneDoesNotTakeTheBatchWithIt) {
  auto storage = open();
  storage->start();
  Gate gate;
  ASSERT_TRUE(gate.hold_writer(*storage, "gate-user"));
  Answers answers;
  storage->append(AppendRequest{"a", "alice", "one", "", nullptr}, answers.append("one"));
  storage->add_member("no-such-room", "bob", "alice", nullptr,
                      answers.status("member"));  // foreign key
  storage->append(AppendRequest{"a", "alice", "two", "", nullptr}, answers.append("two"));
  gate.open();
  ASSERT_TRUE(answers.wait_all());
  EXPECT_TRUE(answers.get("one").ok);
  EXPECT_FALSE(answers.get("member").ok);
  EXPECT_TRUE(answers.get("two").ok);
  EXPECT_EQ(answers.get("one").message.seq, 1);
  EXPECT_EQ(answers.get("two").message.seq, 2);
  storage->stop();
  EXPECT_EQ(committed.messages().size(), 2u);
}

// Reads that fail are answered with an error, never thrown, and the reader recovers.
TEST_F(SqliteFaultTest, ReadFaultsAreAnsweredAsErrorsAndTheReaderRecovers) {
  {
    auto storage = open(false);
    storage->start();
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(append(*storage, "lobby", "m").ok());
    ASSERT_TRUE(
        await<Status>([&](auto done) { storage->create_user("alice", "hash", done); }).ok());
  }
  auto storage = open();  // a fresh reader connection: its first reads go to the file
  storage->start();
  fault::faults().read_failures = -1;
  Answers answers;
  storage->read_after("lobby", 0, 10, answers.read<Result<Page>>("read_after"));
  storage->read_before("lobby", 0, 10, answers.read<Result<Page>>("read_before"));
  storage->head("lobby", answers.read<Result<int64_t>>("head"));
  storage->find_user("alice", answers.read<Result<std::optional<std::string>>>("find_user"));
  ASSERT_TRUE(answers.wait_all());
  EXPECT_GT(fault::faults().injected.load(), 0);
  for (const auto& [key, a] : answers.all()) {
    EXPECT_EQ(a.count, 1) << key;
    EXPECT_FALSE(a.ok) << key;
    EXPECT_EQ(a.error.code, Errc::unavailable) << key;
  }

  fault::faults().clear();
  EXPECT_EQ(rows(*storage, "lobby").size(), 3u);
  auto head = await<Result<int64_t>>([&](auto done) { storage->head("lobby", done); });
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(*head, 3);
  auto user = await<Result<std::optional<std::string>>>(
      [&](auto done) { storage->find_user("alice", done); });
  ASSERT_TRUE(user.ok());
  EXPECT_EQ(*user, std::optional<std::string>("hash"));
}

}  // namespace
}  // namespace parley
