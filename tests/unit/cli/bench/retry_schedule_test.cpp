#include "cli/bench/retry_schedule.h"

#include <gtest/gtest.h>

namespace parley::bench {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

ConnectOutcome told(int s) {
  ConnectOutcome o;
  o.http_status = 503;
  o.retry_after = true;
  o.retry_after_s = seconds(s);
  o.reason = "http_503";
  return o;
}

ConnectOutcome failed(std::string reason, int status = 0) {
  ConnectOutcome o;
  o.http_status = status;
  o.reason = std::move(reason);
  return o;
}

TEST(RetrySchedule, A503IsWaitedOutPlusFullJitter) {
  // Told 4 s: never back before 4 s; the jitter spreads a herd told the same over the
  // back-off's ceiling (500 ms on the first retry, doubling), never over more than 4 s.
  RetrySchedule lo(RetryOn::transient), hi(RetryOn::transient);
  EXPECT_EQ(lo.after(told(4), 0.0), milliseconds(4000));
  EXPECT_EQ(hi.after(told(4), 0.999999), milliseconds(4499));
  EXPECT_EQ(hi.after(told(4), 0.999999), milliseconds(4999));  // ceiling 1 s
  for (int i = 0; i < 10; ++i) hi.after(told(4), 0.0);
  EXPECT_EQ(hi.after(told(4), 0.999999), milliseconds(7999));  // spread capped at Retry-After
  EXPECT_EQ(hi.retries(), 13);
}

TEST(RetrySchedule, OtherFailuresBackOffExponentiallyWithFullJitter) {
  RetrySchedule r(RetryOn::transient);
  EXPECT_EQ(r.after(failed("timeout"), 0.0), milliseconds(0));
  EXPECT_EQ(r.after(failed("reset"), 0.5), milliseconds(500));           // ceiling 1 s
  EXPECT_EQ(r.after(failed("http_503", 503), 0.5), milliseconds(1000));  // no Retry-After
  EXPECT_EQ(r.after(failed("http_429", 429), 0.5), milliseconds(2000));
  EXPECT_EQ(r.after(failed("close_1013"), 0.999), milliseconds(7992));
}

TEST(RetrySchedule, ARefusalOfTheClientItselfIsFinal) {
  // As for the JavaScript library and parley chat: a wrong token or request never gets better.
  for (int status : {400, 401, 403}) {
    RetrySchedule r(RetryOn::transient);
    EXPECT_EQ(r.after(failed("http_" + std::to_string(status), status), 0.5), std::nullopt);
  }
  EXPECT_FALSE(is_final_refusal(503));
  EXPECT_FALSE(is_final_refusal(429));
}

TEST(RetrySchedule, SetUpConnectionsRetryOnlyWhenTold) {
  // A bench's set-up (Fleet::open) waits when the storm guard says so, and fails fast on
  // anything else (an unreachable server is an error, not a minute of retries).
  RetrySchedule r(RetryOn::told);
  EXPECT_EQ(r.after(failed("refused"), 0.5), std::nullopt);
  EXPECT_EQ(r.after(failed("http_503", 503), 0.5), std::nullopt);  // no Retry-After
  EXPECT_EQ(r.after(told(2), 0.0), milliseconds(2000));
}

TEST(RetrySchedule, JitterDrawsAreUniformInZeroToOne) {
  double lo = 1, hi = 0, sum = 0;
  constexpr int kDraws = 20000;
  for (int i = 0; i < kDraws; ++i) {
    double u = jitter_draw();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    lo = std::min(lo, u);
    hi = std::max(hi, u);
    sum += u;
  }
  EXPECT_LT(lo, 0.01);
  EXPECT_GT(hi, 0.99);
  EXPECT_NEAR(sum / kDraws, 0.5, 0.02);
}

}  // namespace
}  // namespace parley::bench
