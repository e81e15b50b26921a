// The pool's bounds and its behaviour while PostgreSQL is away: jobs answered `unavailable`
// within seconds, healthy() false, and everything back on its own once the server returns.
#include "adapters/postgres/pg_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <string>

#include "adapters/postgres/pg_store.h"
#include "unit/adapters/postgres/pg_test_env.h"

namespace parley {
namespace {

using namespace std::chrono_literals;
using pgtest::await;

// A job that runs a callable and reports where its answer went.
class ProbeJob final : public pg::PgJob {
 public:
  ProbeJob(std::function<void(pg::Connection&)> body, std::function<void(const Error&)> failed)
      : body_(std::move(body)), failed_(std::move(failed)) {}
  void run(pg::Connection& c) override { body_(c); }
  void fail(const Error& e) override { failed_(e); }

 private:
  std::function<void(pg::Connection&)> body_;
  std::function<void(const Error&)> failed_;
};

TEST(PgPoolTest, FullQueueAnswersUnavailableAtOnce) {
  pg::PgPoolOptions o;
  o.conninfo = pgtest::admin_conninfo();
  o.workers = 1;
  o.max_jobs = 2;
  o.max_bytes = 10000;
  pg::PgPool pool(o);
  pool.start();

  std::promise<void> started, release;
  auto release_f = release.get_future().share();
  std::atomic<int> ran{0};
  std::atomic<int> failed{0};
  auto on_fail = [&](const Error&) { failed++; };
  // Occupies the only worker until released.
  pool.submit(std::make_unique<ProbeJob>(
                  [&](pg::Connection&) {
                    started.set_value();
                    release_f.wait();
                    ran++;
                  },
                  on_fail),
              100);
  ASSERT_EQ(started.get_future().wait_for(5s), std::future_status::ready);

  auto count = [&](pg::Connection& c) {
    if (c.exec("SELECT 1")) ran++;
  };
  pool.submit(std::make_unique<ProbeJob>(count, on_fail), 100);
  pool.submit(std::make_unique<ProbeJob>(count, on_fail), 100);
  EXPECT_EQ(pool.queue().jobs, 2u);

  // Past the job bound: refused on this thread, before submit returns.
  Error refusal;
  bool refused = false;
  pool.submit(std::make_unique<ProbeJob>(count,
                                         [&](const Error& e) {
                                           refused = true;
                                           refusal = e;
                                         }),
              100);
  EXPECT_TRUE(refused);
  EXPECT_EQ(refusal.code, Errc::unavailable);

  release.set_value();
  EXPECT_TRUE(pgtest::eventually([&] { return ran == 3; }, 5s));
  EXPECT_EQ(failed, 0);

  // Past the byte bound: refused too, even with the queue empty.
  refused = false;
  pool.submit(std::make_unique<ProbeJob>(count, [&](const Error&) { refused = true; }), 20000);
  EXPECT_TRUE(refused);

  // After stop: refused at once as well.
  pool.stop();
  refused = false;
  pool.submit(std::make_unique<ProbeJob>(count, [&](const Error&) { refused = true; }), 10);
  EXPECT_TRUE(refused);
}

TEST(PgPoolTest, StoreReadsRefusedWhenQueueIsFull) {
  // The same through the store's API: a flood of reads beyond the bound is answered at once.
  std::string db = pgtest::fresh_database();
  ASSERT_FALSE(db.empty());
  {
    PgStoreOptions o;
    o.conninfo = db;
    o.messages_topic = "t";
    o.pool.workers = 1;
    o.pool.max_jobs = 4;
    PgStore store(o);
    std::atomic<int> unavailable{0};
    std::atomic<int> answered{0};
    for (int i = 0; i < 200; ++i) {
      store.find_user("u" + std::to_string(i), [&](Result<std::optional<std::string>> r) {
        if (!r && r.error().code == Errc::unavailable) unavailable++;
        answered++;
      });
    }
    EXPECT_TRUE(pgtest::eventually([&] { return answered == 200; }, 10s));
    EXPECT_GT(unavailable, 0);
    EXPECT_LT(unavailable, 200);
  }
  pgtest::drop_database(db);
}

TEST(PgPoolTest, ConstructorThrowsWhenServerIsUnreachable) {
  PgStoreOptions o;
  o.conninfo = "host=127.0.0.1 port=1 dbname=x user=x";
  o.messages_topic = "t";
  auto t0 = pg::steady_ms();
  EXPECT_THROW(PgStore store(o), std::runtime_error);
  EXPECT_LT(pg::steady_ms() - t0, 3000);
}

// Its own server: the test stops and kills it.
class PgOutageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    try {
      server_ = std::make_unique<pgtest::Server>();
    } catch (const std::exception& e) {
      FAIL() << e.what();
    }
    PgStoreOptions o;
    o.conninfo = server_->conninfo();
    o.messages_topic = "parley.messages";
    store_ = std::make_unique<PgStore>(o);
  }
  void TearDown() override {
    store_.reset();
    server_.reset();
  }

  Result<std::optional<std::string>> find(const std::string& name) {
    return await<Result<std::optional<std::string>>>(
        [&](auto done) { store_->find_user(name, done); });
  }

  // While the server is away: jobs answered `unavailable` within a few seconds, health false.
  void expect_down() {
    auto t0 = pg::steady_ms();
    EXPECT_TRUE(pgtest::eventually([&] { return !store_->healthy(); }, 6s))
        << "healthy() still true after 6 s";
    EXPECT_LT(pg::steady_ms() - t0, 4500) << "healthy() took too long to turn false";
    for (int i = 0; i < 5; ++i) {
      auto t1 = pg::steady_ms();
      auto r = find("alice");
      ASSERT_FALSE(r);
      EXPECT_EQ(r.error().code, Errc::unavailable) << r.error().message;
      EXPECT_LT(pg::steady_ms() - t1, 3000);
    }
    auto t2 = pg::steady_ms();
    PersistBatch b;
    b.offsets = {{0, stored_, stored_ + 1}};
    Status s = store_->persist(b);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code, Errc::unavailable) << s.error().message;
    EXPECT_LT(pg::steady_ms() - t2, 3000);
  }

  // Back on its own: health true, the same store works again without being told.
  void expect_back() {
    EXPECT_TRUE(pgtest::eventually([&] { return store_->healthy(); }, 6s))
        << "healthy() not back after 6 s";
    EXPECT_TRUE(pgtest::eventually([&] { return find("alice").ok(); }, 3s));
    auto r = find("alice");
    ASSERT_TRUE(r) << r.error().message;
    ASSERT_TRUE(r->has_value());
    EXPECT_EQ(**r, "hash");
    PersistBatch b;
    b.offsets = {{0, stored_, stored_ + 1}};
    Status s = store_->persist(b);
    EXPECT_TRUE(s) << s.error().message;
    if (s) ++stored_;
  }

  std::unique_ptr<pgtest::Server> server_;
  std::unique_ptr<PgStore> store_;
  int64_t stored_ = 0;  // partition 0's offset in PostgreSQL
};

TEST_F(PgOutageTest, StoppedThenRestartedAndKilledThenRestarted) {
  ASSERT_TRUE(pgtest::eventually([&] { return store_->healthy(); }, 3s));
  auto created = await<Status>([&](auto done) { store_->create_user("alice", "hash", done); });
  ASSERT_TRUE(created) << created.error().message;

  server_->stop();
  expect_down();
  server_->restart();
  expect_back();

  server_->kill();
  expect_down();
  server_->restart();
  expect_back();
}

}  // namespace
}  // namespace parley
