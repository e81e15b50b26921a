#include "client/backoff.h"

#include <gtest/gtest.h>

#include <random>

namespace parley::client {
namespace {
using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(Backoff, CeilingDoublesFromBaseToCap) {
  Backoff b(BackoffPolicy{milliseconds(500), milliseconds(15000), seconds(300)});
  const long long expected[] = {500, 1000, 2000, 4000, 8000, 15000, 15000, 15000};
  for (long long e : expected) {
    EXPECT_EQ(b.ceiling().count(), e);
    b.next(0.5);
  }
}

TEST(Backoff, FullJitterSpansZeroToTheCeiling) {
  Backoff lo, hi;
  for (int i = 0; i < 10; ++i) {
    const auto ceiling = hi.ceiling();
    EXPECT_EQ(lo.next(0.0).count(), 0);
    const auto d = hi.next(0.999999);
    EXPECT_LT(d, ceiling);
    EXPECT_GE(d, ceiling - milliseconds(1));
  }
}

TEST(Backoff, RandomDrawsStayWithinBoundsAndSpread) {
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  Backoff b;
  long long sum = 0;
  const int n = 2000;
  for (int i = 0; i < n; ++i) {
    b.reset();
    for (int k = 0; k < 3; ++k) b.next(u(rng));
    const auto ceiling = b.ceiling();  // 4000 ms at the fourth attempt
    const auto d = b.next(u(rng));
    ASSERT_GE(d.count(), 0);
    ASSERT_LT(d, ceiling);
    sum += d.count();
  }
  // Full jitter: the mean is half the ceiling, not the ceiling (which plain back-off waits).
  EXPECT_NEAR(static_cast<double>(sum) / n, 2000.0, 150.0);
}

TEST(Backoff, ResetStartsOverFromBase) {
  Backoff b;
  for (int i = 0; i < 6; ++i) b.next(0.5);
  EXPECT_EQ(b.ceiling().count(), 15000);
  b.reset();
  EXPECT_EQ(b.attempts(), 0);
  EXPECT_EQ(b.ceiling().count(), 500);
}

TEST(Backoff, RetryAfterIsAFloorSpreadOverAtMostItself) {
  Backoff b;
  EXPECT_EQ(b.next(0.0, seconds(3)).count(), 3000);  // never before Retry-After
  for (int i = 0; i < 8; ++i) b.next(0.5);
  const auto d = b.next(0.999, seconds(2));  // the ceiling is 15 s, the spread only 2 s
  EXPECT_GE(d.count(), 2000);
  EXPECT_LT(d.count(), 4000);
}

TEST(Backoff, AnAbsurdRetryAfterIsCapped) {
  Backoff b(BackoffPolicy{milliseconds(500), milliseconds(15000), seconds(300)});
  EXPECT_EQ(b.next(0.0, seconds(86400)).count(), 300000);
}

TEST(Backoff, ManyAttemptsDoNotOverflow) {
  Backoff b;
  for (int i = 0; i < 10000; ++i) b.next(0.999);
  EXPECT_EQ(b.ceiling().count(), 15000);
  EXPECT_LT(b.next(0.999).count(), 15000);
}

TEST(RetryAfter, ParsesDeltaSecondsOnly) {
  EXPECT_EQ(parse_retry_after("2"), seconds(2));
  EXPECT_EQ(parse_retry_after(" 120 "), seconds(120));
  EXPECT_EQ(parse_retry_after("0"), seconds(0));
  EXPECT_FALSE(parse_retry_after(""));
  EXPECT_FALSE(parse_retry_after("-1"));
  EXPECT_FALSE(parse_retry_after("1.5"));
  EXPECT_FALSE(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"));
  EXPECT_FALSE(parse_retry_after("99999999999999999999"));
}

}  // namespace
}  // namespace parley::client
