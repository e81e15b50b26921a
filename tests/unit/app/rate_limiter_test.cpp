#include "app/rate_limiter.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace parley
