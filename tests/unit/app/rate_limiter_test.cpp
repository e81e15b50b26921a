#include "app/rate_limiter.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>

namespace parley {
namespace {

constexpr int64_t kT0 = 2'000'000;

int allowed(RateLimiter& limiter, const std::string& user, int64_t now_ms, int tries) {
  int n = 0;
  for (int i = 0; i < tries; ++i) n += limiter.allow(user, now_ms) ? 1 : 0;
  return n;
}

TEST(RateLimiterTest, EachUserHasTheirOwnBurst) {
  RateLimiter limiter(10, 3);
  EXPECT_EQ(allowed(limiter, "alice", kT0, 5), 3);
  EXPECT_EQ(allowed(limiter, "bob", kT0, 5), 3);  // alice's sends do not count against bob
  EXPECT_FALSE(limiter.allow("alice", kT0));
}

TEST(RateLimiterTest, RefillsWithTime) {
  RateLimiter limiter(10, 3);
  ASSERT_EQ(allowed(limiter, "alice", kT0, 3), 3);
  EXPECT_FALSE(limiter.allow("alice", kT0 + 99));
  EXPECT_TRUE(limiter.allow("alice", kT0 + 100));
  EXPECT_EQ(allowed(limiter, "alice", kT0 + 10'000, 10), 3);
}

TEST(RateLimiterTest, ANewUserStartsFullWhateverTheOthersDid) {
  RateLimiter limiter(1, 2);
  ASSERT_EQ(allowed(limiter, "alice", kT0, 2), 2);
  EXPECT_EQ(allowed(limiter, "carol", kT0 + 1, 5), 2);
}

TEST(RateLimiterTest, IdleBucketsAreEvictedSoDistinctUsersDoNotGrowTheMap) {
  // rate 10/s, burst 3: a bucket is full again 300 ms after its last use.
  RateLimiter limiter(10, 3);
  for (int i = 0; i < 100'000; ++i) {
    limiter.allow("user" + std::to_string(i), kT0 + i * 10);  // one new user every 10 ms
    ASSERT_LE(limiter.size(), 40u) << "after " << i + 1 << " users";
  }
}

TEST(RateLimiterTest, TheNumberOfBucketsHasAHardCap) {
  RateLimiter limiter(1, 5, 1000);
  for (int i = 0; i < 50'000; ++i) limiter.allow("user" + std::to_string(i), kT0);  // all at once
  EXPECT_EQ(limiter.size(), 1000u);
}

TEST(RateLimiterTest, AUserEvictedWhenIdleGetsAFullBucketAsBefore) {
  RateLimiter limiter(10, 3);
  ASSERT_EQ(allowed(limiter, "alice", kT0, 5), 3);
  // Others come and go until alice's bucket, refilled, is evicted.
  for (int i = 0; i < 100; ++i) limiter.allow("other" + std::to_string(i), kT0 + 1000 + i);
  EXPECT_EQ(limiter.size(), 100u);  // the others only: alice's bucket is gone
  EXPECT_EQ(allowed(limiter, "alice", kT0 + 1100, 5), 3);
}

TEST(RateLimiterTest, ABucketNotFullYetIsKept) {
  RateLimiter limiter(10, 3);
  ASSERT_EQ(allowed(limiter, "alice", kT0, 5), 3);
  // 200 ms later alice has 2 tokens, not 3: her bucket must survive the others' calls.
  for (int i = 0; i < 100; ++i) limiter.allow("other" + std::to_string(i), kT0 + 200);
  EXPECT_EQ(allowed(limiter, "alice", kT0 + 200, 5), 2);
}

TEST(RateLimiterTest, EvictionNeverChangesAnAnswer) {
  // The limiter against one bucket per user kept forever, on random traffic where users are
  // often out of tokens and sometimes idle long enough to be evicted.
  const double rate = 20, burst = 4;
  RateLimiter limiter(rate, burst);
  std::map<std::string, TokenBucket> reference;
  std::mt19937 rng(42);
  int64_t now = kT0;
  bool evicted_some = false;
  for (int i = 0; i < 200'000; ++i) {
    now += static_cast<int64_t>(rng() % 3);
    std::string user = "u" + std::to_string(rng() % 50);
    auto it = reference.try_emplace(user, rate, burst, now).first;
    ASSERT_EQ(limiter.allow(user, now), it->second.try_take(now)) << "call " << i << " " << user;
    evicted_some = evicted_some || limiter.size() < reference.size();
  }
  EXPECT_TRUE(evicted_some);
}

TEST(RateLimiterTest, UsageIsCountedOnlyOnceAskedAndOnlyForWhatWasAllowed) {
  RateLimiter limiter(10, 3);
  ASSERT_EQ(allowed(limiter, "alice", kT0, 2), 2);
  EXPECT_TRUE(limiter.take_usage().empty());  // not counting yet
  limiter.count_usage();
  ASSERT_EQ(allowed(limiter, "alice", kT0, 5), 1);  // one token left: four refused
  ASSERT_EQ(allowed(limiter, "bob", kT0, 2), 2);
  auto usage = limiter.take_usage();
  std::sort(usage.begin(), usage.end());
  EXPECT_EQ(usage, (std::vector<std::pair<std::string, uint32_t>>{{"alice", 1}, {"bob", 2}}));
  EXPECT_TRUE(limiter.take_usage().empty());  // taken: counts start again
}

TEST(RateLimiterTest, SendsChargedFromElsewhereComeOutOfTheBucketDownToEmpty) {
  RateLimiter limiter(10, 5);
  limiter.charge("alice", 3, kT0);
  EXPECT_EQ(allowed(limiter, "alice", kT0, 5), 2);
  limiter.charge("alice", 100, kT0);  // never below empty: full again within burst / rate
  EXPECT_EQ(allowed(limiter, "alice", kT0 + 100, 5), 1);
  EXPECT_EQ(allowed(limiter, "alice", kT0 + 600, 10), 5);
  EXPECT_EQ(allowed(limiter, "bob", kT0, 10), 5);  // others untouched
}

}  // namespace
}  // namespace parley
