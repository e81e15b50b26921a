// The schema migrations: applied once, in order, also when several instances start together.
#include "adapters/postgres/pg_migrations.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "unit/adapters/postgres/pg_test_env.h"

namespace parley {
namespace {

using pgtest::query_int;

class PgMigrationsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = pgtest::fresh_database();
    ASSERT_FALSE(db_.empty());
  }
  void TearDown() override { pgtest::drop_database(db_); }
  std::string db_;
};

TEST_F(PgMigrationsTest, AppliesEveryMigrationOnceAndIsIdempotent) {
  pg::Connection c(db_);
  auto first = pg::migrate(c);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(*first, pg::newest_schema_version());
  auto second = pg::migrate(c);
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(*second, pg::newest_schema_version());
  EXPECT_EQ(query_int(db_, "SELECT count(*) FROM schema_migrations"), pg::newest_schema_version());
  EXPECT_EQ(query_int(db_, "SELECT max(version) FROM schema_migrations"),
            pg::newest_schema_version());
  // The tables of the spec, and the window's index on (partition, seq).
  for (const char* table :
       {"users", "rooms", "members", "messages", "dead_letters", "log_offsets", "settings"}) {
    EXPECT_EQ(query_int(db_, std::string("SELECT count(*) FROM ") + table), 0) << table;
  }
  EXPECT_EQ(query_int(db_,
                      "SELECT count(*) FROM pg_indexes WHERE tablename = 'messages' "
                      "AND indexdef LIKE '%(partition, seq)%'"),
            1);
  EXPECT_EQ(query_int(db_,
                      "SELECT count(*) FROM pg_indexes WHERE tablename = 'dead_letters' "
                      "AND indexdef LIKE '%UNIQUE%(source)%'"),
            1);
}

TEST_F(PgMigrationsTest, ConcurrentInstancesDoNotRace) {
  constexpr int kInstances = 4;
  std::vector<std::string> errors(kInstances);
  std::vector<std::thread> threads;
  for (int i = 0; i < kInstances; ++i) {
    threads.emplace_back([&, i] {
      pg::Connection c(db_);
      auto r = pg::migrate(c);
      if (!r) errors[static_cast<size_t>(i)] = r.error().message;
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& e : errors) EXPECT_EQ(e, "");
  EXPECT_EQ(query_int(db_, "SELECT count(*) FROM schema_migrations"), pg::newest_schema_version());
}

TEST_F(PgMigrationsTest, RefusesASchemaNewerThanTheBuild) {
  pg::Connection c(db_);
  ASSERT_TRUE(pg::migrate(c));
  ASSERT_TRUE(pgtest::exec_sql(db_, "INSERT INTO schema_migrations(version) VALUES (999)"));
  auto r = pg::migrate(c);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("newer"), std::string::npos) << r.error().message;
}

TEST(PgConnectionTest, UnreachableServerIsUnavailableQuicklyAndBacksOff) {
  auto backoff = std::make_shared<pg::Backoff>(500, 2000);
  // Port 1 on loopback: nothing listens, the connect is refused at once.
  pg::Connection a("host=127.0.0.1 port=1 dbname=x user=x", {}, backoff);
  pg::Connection b("host=127.0.0.1 port=1 dbname=x user=x", {}, backoff);
  auto t0 = pg::steady_ms();
  auto r = a.exec("SELECT 1");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::unavailable);
  EXPECT_NE(r.error().message.find("cannot connect"), std::string::npos) << r.error().message;
  // The other connection sharing the backoff does not even try.
  auto r2 = b.exec("SELECT 1");
  ASSERT_FALSE(r2);
  EXPECT_NE(r2.error().message.find("retrying shortly"), std::string::npos) << r2.error().message;
  EXPECT_LT(pg::steady_ms() - t0, 2500);
}

TEST(PgConnectionTest, TextArrayEscapesQuotesBackslashesAndNul) {
  pg::TextArray a;
  a.add(std::string_view("a\"b\\c"));
  a.add_null();
  a.add(std::string_view("x\0y", 3));
  a.add(int64_t{-5});
  std::string lit = a.take();
  EXPECT_EQ(lit, "{\"a\\\"b\\\\c\",NULL,\"x\xEF\xBF\xBDy\",-5}");
  EXPECT_EQ(a.take(), "{}");
  // And the server reads it back as written.
  pg::Connection c(pgtest::admin_conninfo());
  pg::Statement s{"t_array",
                  "SELECT x FROM unnest($1::text[]) WITH ORDINALITY AS t(x, i) ORDER BY i"};
  auto r = c.exec(s, pg::Params().add(lit));
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->rows(), 4);
  EXPECT_EQ(r->text(0, 0), "a\"b\\c");
  EXPECT_TRUE(r->is_null(1, 0));
  EXPECT_EQ(r->text(2, 0), "x\xEF\xBF\xBDy");
  EXPECT_EQ(r->text(3, 0), "-5");
}

}  // namespace
}  // namespace parley
