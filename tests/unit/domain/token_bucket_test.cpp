#include "domain/token_bucket.h"

#include <gtest/gtest.h>

namespace parley {
namespace {

constexpr int64_t kT0 = 1'000'000;

int take_all(TokenBucket& bucket, int64_t now_ms) {
  int n = 0;
  while (bucket.try_take(now_ms)) ++n;
  return n;
}

TEST(TokenBucketTest, AChargeTakesTokensButNeverBelowEmpty) {
  TokenBucket b(10, 4, 0);
  b.charge(3, 0);
  EXPECT_TRUE(b.try_take(0));
  EXPECT_FALSE(b.try_take(0));
  b.charge(50, 0);
  EXPECT_FALSE(b.try_take(50));  // half a token
  EXPECT_TRUE(b.try_take(100));  // one token after 100 ms: it was empty, not at -50
}

TEST(TokenBucketTest, StartsFullWithTheBurst) {
  TokenBucket bucket(10, 5, kT0);
  EXPECT_EQ(take_all(bucket, kT0), 5);
  EXPECT_FALSE(bucket.try_take(kT0));
}

TEST(TokenBucketTest, RefillsAtTheRate) {
  TokenBucket bucket(10, 5, kT0);  // one token per 100 ms
  ASSERT_EQ(take_all(bucket, kT0), 5);
  EXPECT_FALSE(bucket.try_take(kT0 + 99));
  EXPECT_TRUE(bucket.try_take(kT0 + 100));
  EXPECT_FALSE(bucket.try_take(kT0 + 100));
  EXPECT_EQ(take_all(bucket, kT0 + 400), 3);
}

TEST(TokenBucketTest, PartialTokensAccumulateAcrossCalls) {
  TokenBucket bucket(10, 1, kT0);
  ASSERT_TRUE(bucket.try_take(kT0));
  EXPECT_FALSE(bucket.try_take(kT0 + 50));  // half a token
  EXPECT_TRUE(bucket.try_take(kT0 + 100));  // the other half arrived
}

TEST(TokenBucketTest, NeverHoldsMoreThanTheBurst) {
  TokenBucket bucket(10, 5, kT0);
  ASSERT_EQ(take_all(bucket, kT0), 5);
  EXPECT_EQ(take_all(bucket, kT0 + 3'600'000), 5);  // an hour idle still gives only the burst
}

TEST(TokenBucketTest, TimeGoingBackwardsAddsNothing) {
  TokenBucket bucket(10, 2, kT0);
  ASSERT_EQ(take_all(bucket, kT0), 2);
  EXPECT_FALSE(bucket.try_take(kT0 - 10'000));
  EXPECT_FALSE(bucket.try_take(kT0 + 99));  // refill counts from kT0, not from the past
  EXPECT_TRUE(bucket.try_take(kT0 + 100));
}

TEST(TokenBucketTest, ProtocolDefaultsAllowTwoHundredPerSecondAfterTheBurst) {
  TokenBucket bucket(200, 400, kT0);
  EXPECT_EQ(take_all(bucket, kT0), 400);
  EXPECT_EQ(take_all(bucket, kT0 + 1000), 200);
}

}  // namespace
}  // namespace parley
