#include "domain/deadline.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace parley {
namespace {

TEST(DeadlineTest, ClaimBeforeTheDeadlineWinsAndBlocksExpiry) {
  Deadline d(1000);
  EXPECT_EQ(d.at_ms(), 1000);
  EXPECT_TRUE(d.claim(999));
  EXPECT_FALSE(d.expire());
  EXPECT_FALSE(d.expired());
}

TEST(DeadlineTest, ClaimedStaysClaimedEvenWhenAskedAgainLate) {
  Deadline d(1000);
  ASSERT_TRUE(d.claim(500));
  EXPECT_TRUE(d.claim(500));   // idempotent
  EXPECT_TRUE(d.claim(5000));  // once claimed it completes, even a little late
  EXPECT_FALSE(d.expired());
}

TEST(DeadlineTest, ExpireFirstMakesEveryLaterClaimFail) {
  Deadline d(1000);
  EXPECT_TRUE(d.expire());
  EXPECT_TRUE(d.expired());
  EXPECT_TRUE(d.expire());  // idempotent: still expired
  EXPECT_FALSE(d.claim(0));
  EXPECT_FALSE(d.claim(999));
}

TEST(DeadlineTest, ClaimAtOrAfterTheDeadlineExpiresIt) {
  Deadline at(1000);
  EXPECT_FALSE(at.claim(1000));
  EXPECT_TRUE(at.expired());

  Deadline after(1000);
  EXPECT_FALSE(after.claim(1001));
  EXPECT_TRUE(after.expired());
  EXPECT_TRUE(after.expire());  // the timer agrees: answer `timeout`
}

TEST(DeadlineTest, ConcurrentClaimAndExpireHaveExactlyOneWinner) {
  for (int round = 0; round < 200; ++round) {
    Deadline d(1'000'000);
    std::atomic<bool> go{false};
    bool claimed = false;
    bool expired = false;
    std::thread claimer([&] {
      while (!go) {
      }
      claimed = d.claim(0);
    });
    std::thread timer([&] {
      while (!go) {
      }
      expired = d.expire();
    });
    go = true;
    claimer.join();
    timer.join();
    EXPECT_NE(claimed, expired) << "round " << round;
    EXPECT_EQ(d.expired(), expired);
  }
}

}  // namespace
}  // namespace parley
