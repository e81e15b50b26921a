// The storage's queues are bounded in jobs and in bytes: with the writer (or the reader) held,
// a flood past the bound is answered `unavailable` at once, on the caller's thread, and what
// is queued, and the process's memory, stop growing. What was queued completes normally.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "adapters/sqlite/job_queue.h"
#include "adapters/sqlite/sqlite_storage.h"
#include "contract/storage_test_support.h"
#include "fakes/manual_clock.h"
#include "unit/adapters/sqlite/storage_harness.h"

namespace parley {
namespace {

using fakes::ManualClock;
using testsupport::Answers;
using testsupport::await;
using testsupport::Committed;
using testsupport::Gate;
using testsupport::TempDir;

// ---- the queue itself --------------------------------------------------------------------

TEST(JobQueueTest, RefusesPastEitherBoundAndLeavesTheJobWithTheCaller) {
  sqlite::JobQueue<int> q(3, 100);
  auto job = [](int v) { return std::make_unique<int>(v); };
  auto a = job(1), b = job(2), c = job(3), d = job(4);
  EXPECT_EQ(q.push(a, 40), sqlite::Push::queued);
  EXPECT_EQ(q.push(b, 61), sqlite::Push::full);  // 101 bytes
  ASSERT_TRUE(b);
  EXPECT_EQ(*b, 2);
  EXPECT_EQ(q.push(b, 60), sqlite::Push::queued);  // exactly 100
  EXPECT_EQ(q.push(c, 0), sqlite::Push::queued);
  EXPECT_EQ(q.push(d, 0), sqlite::Push::full);  // 4 jobs
  EXPECT_EQ(q.usage().jobs, 3u);
  EXPECT_EQ(q.usage().bytes, 100u);

  std::vector<std::unique_ptr<int>> out;
  ASSERT_TRUE(q.pop(out, 2));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(*out[0], 1);
  EXPECT_EQ(*out[1], 2);
  EXPECT_EQ(q.usage().bytes, 0u);  // what is popped no longer counts
  EXPECT_EQ(q.push(d, 100), sqlite::Push::queued);

  q.stop();
  auto e = job(5);
  EXPECT_EQ(q.push(e, 0), sqlite::Push::stopped);
  ASSERT_TRUE(e);
  out.clear();
  ASSERT_TRUE(q.pop(out, 10));  // stopped, but what is queued is still handed out
  EXPECT_EQ(out.size(), 2u);
  EXPECT_FALSE(q.pop(out, 10));
}

// ---- the storage ---------------------------------------------------------------------------

// Resident memory of this process, in bytes.
size_t rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  size_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

class SqliteBoundsTest : public ::testing::Test {
 protected:
  std::unique_ptr<SqliteStorage> open(SqliteOptions options) {
    options.path = dir.file("parley.db");
    auto storage = std::make_unique<SqliteStorage>(options, clock);
    storage->on_committed(committed.sink());
    return storage;
  }

  // Offers @p n appends of @p text_bytes to room @p room; counts those answered at once, on
  // this thread, as overloaded (each answer lands in @p answers under "<room>-<i>").
  static size_t flood(SqliteStorage& s, Answers& answers, const std::string& room, int n,
                      size_t text_bytes) {
    auto refused = std::make_shared<std::atomic<size_t>>(0);
    for (int i = 0; i < n; ++i) {
      auto record = answers.append(room + "-" + std::to_string(i));
      s.append(AppendRequest{room, "alice", std::string(text_bytes, 'x'), "", nullptr},
               [refused, record, caller = std::this_thread::get_id()](Result<Appended> r) {
                 if (std::this_thread::get_id() == caller && overloaded(r)) ++*refused;
                 record(std::move(r));
               });
    }
    return refused->load();
  }
  template <typename R>
  static bool overloaded(const R& r) {
    return !r.ok() && r.error().code == Errc::unavailable &&
           r.error().message == "storage is overloaded, retry";
  }

  TempDir dir;
  std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>();
  Committed committed;
};

TEST_F(SqliteBoundsTest, AFullWriterQueueAnswersUnavailableAtOnceAndQueuedJobsStillCommit) {
  SqliteOptions options;
  options.write_queue_max_jobs = 100;
  auto storage = open(options);
  storage->start();
  Gate gate;
  ASSERT_TRUE(gate.hold_writer(*storage, "gate-user"));

  Answers answers;
  EXPECT_EQ(flood(*storage, answers, "lobby", 10'000, 100), 9'900u);
  EXPECT_EQ(storage->write_queue().jobs, 100u);
  EXPECT_LE(storage->write_queue().bytes, options.write_queue_max_bytes);

  gate.open();
  ASSERT_TRUE(answers.wait_all());
  std::vector<int64_t> seqs;
  for (const auto& [key, a] : answers.all()) {
    EXPECT_EQ(a.count, 1) << key;
    if (a.ok) seqs.push_back(a.message.seq);
  }
  std::sort(seqs.begin(), seqs.end());
  ASSERT_EQ(seqs.size(), 100u);
  EXPECT_EQ(seqs.front(), 1);
  EXPECT_EQ(seqs.back(), 100);  // consecutive: no seq was burnt by a refused job
  // Room again: the next append goes through.
  auto next = await<Result<Appended>>([&](auto done) {
    storage->append(AppendRequest{"lobby", "alice", "after", "", nullptr}, done);
  });
  ASSERT_TRUE(next.ok()) << next.error().message;
  EXPECT_EQ(next->message.seq, 101);
}

TEST_F(SqliteBoundsTest, TheWriterQueueIsBoundedInBytesToo) {
  SqliteOptions options;
  options.write_queue_max_bytes = 256 << 10;
  auto storage = open(options);
  storage->start();
  Gate gate;
  ASSERT_TRUE(gate.hold_writer(*storage, "gate-user"));

  Answers answers;
  size_t refused = flood(*storage, answers, "lobby", 1'000, 4096);
  size_t queued = storage->write_queue().jobs;
  EXPECT_EQ(queued + refused, 1'000u);
  EXPECT_GT(queued, 0u);
  EXPECT_LE(queued, (256u << 10) / 4096);  // each job counts at least its text
  EXPECT_LE(storage->write_queue().bytes, options.write_queue_max_bytes);
  gate.open();
  ASSERT_TRUE(answers.wait_all());
}

TEST_F(SqliteBoundsTest, AFullReaderQueueAnswersUnavailableAtOnce) {
  SqliteOptions options;
  options.read_queue_max_jobs = 50;
  auto storage = open(options);
  storage->start();
  Gate gate;
  ASSERT_TRUE(gate.hold_reader(*storage));

  Answers answers;
  auto refused = std::make_shared<std::atomic<size_t>>(0);
  for (int i = 0; i < 5'000; ++i) {
    auto record = answers.read<Result<int64_t>>("head-" + std::to_string(i));
    storage->head("lobby",
                  [refused, record, caller = std::this_thread::get_id()](Result<int64_t> r) {
                    if (std::this_thread::get_id() == caller && overloaded(r)) ++*refused;
                    record(std::move(r));
                  });
  }
  EXPECT_EQ(refused->load(), 4'950u);
  EXPECT_EQ(storage->read_queue().jobs, 50u);
  gate.open();
  ASSERT_TRUE(answers.wait_all());
  size_t ok = 0;
  for (const auto& [key, a] : answers.all()) {
    EXPECT_EQ(a.count, 1) << key;
    ok += a.ok;
  }
  EXPECT_EQ(ok, 50u);
}

TEST_F(SqliteBoundsTest, AFloodAgainstAHeldWriterDoesNotGrowMemory) {
  SqliteOptions options;
  options.write_queue_max_bytes = 1 << 20;
  auto storage = open(options);
  storage->start();
  Gate gate;
  ASSERT_TRUE(gate.hold_writer(*storage, "gate-user"));

  // 40,000 sends of 4 KiB: 160 MiB if they were all kept. The bound keeps 1 MiB.
  constexpr int kFlood = 40'000;
  size_t before = rss_bytes();
  auto refused = std::make_shared<std::atomic<size_t>>(0);
  for (int i = 0; i < kFlood; ++i) {
    storage->append(AppendRequest{"lobby", "alice", std::string(4096, 'x'), "", nullptr},
                    [refused](Result<Appended> r) { *refused += overloaded(r); });
  }
  size_t after = rss_bytes();
  size_t growth = after > before ? after - before : 0;
  size_t queued = storage->write_queue().jobs;
  EXPECT_EQ(refused->load() + queued, static_cast<size_t>(kFlood));
#if !defined(__SANITIZE_ADDRESS__)  // which keeps freed memory in quarantine: RSS means nothing
  EXPECT_LT(growth, size_t{16} << 20) << "RSS grew by " << (growth >> 20) << " MiB";
#endif
  RecordProperty("rss_growth_kib", static_cast<int>(growth >> 10));
  gate.open();
  storage->stop();
}

TEST_F(SqliteBoundsTest, AfterStopEveryCallIsAnsweredAtOnce) {
  auto storage = open(SqliteOptions{});
  storage->start();
  storage->stop();
  Answers answers;
  storage->append(AppendRequest{"lobby", "alice", "late", "", nullptr}, answers.append("append"));
  storage->create_user("bob", "hash", answers.status("user"));
  storage->head("lobby", answers.read<Result<int64_t>>("head"));
  EXPECT_EQ(answers.answered(), 3u);  // synchronously, not left hanging
  for (const auto& [key, a] : answers.all()) {
    EXPECT_FALSE(a.ok) << key;
    EXPECT_EQ(a.error.code, Errc::unavailable) << key;
  }
}

TEST_F(SqliteBoundsTest, JobsQueuedOnAStorageNeverStartedAreAnsweredWhenItStops) {
  auto storage = open(SqliteOptions{});
  Answers answers;
  storage->append(AppendRequest{"lobby", "alice", "never", "", nullptr}, answers.append("append"));
  storage->find_user("bob", answers.read<Result<std::optional<std::string>>>("find"));
  EXPECT_EQ(answers.answered(), 0u);
  storage.reset();
  EXPECT_EQ(answers.answered(), 2u);
  EXPECT_FALSE(answers.get("append").ok);
  EXPECT_FALSE(answers.get("find").ok);
}

}  // namespace
}  // namespace parley
