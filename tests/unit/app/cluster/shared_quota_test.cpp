#include "app/cluster/shared_quota.h"

#include <gtest/gtest.h>

#include <vector>

namespace parley {
namespace {

constexpr int64_t kT0 = 2'000'000;

int allowed(SharedQuota& q, const std::string& user, int64_t now_ms, int tries) {
  int n = 0;
  for (int i = 0; i < tries; ++i) n += q.allow(user, now_ms) ? 1 : 0;
  return n;
}

TEST(SharedQuotaTest, OneInstanceHasTheWholeQuota) {
  SharedQuota q(10, 6);
  EXPECT_EQ(q.instances(), 1u);
  EXPECT_EQ(allowed(q, "alice", kT0, 20), 6);
  EXPECT_FALSE(q.allow("alice", kT0 + 99));
  EXPECT_TRUE(q.allow("alice", kT0 + 100));  // 10/s: one token per 100 ms
}

TEST(SharedQuotaTest, RateAndBurstAreDividedByTheLiveInstances) {
  SharedQuota q(10, 6);
  q.set_instances(2);
  EXPECT_DOUBLE_EQ(q.local_rate(), 5);
  EXPECT_DOUBLE_EQ(q.local_burst(), 3);
  EXPECT_EQ(allowed(q, "alice", kT0, 20), 3);
  EXPECT_FALSE(q.allow("alice", kT0 + 199));
  EXPECT_TRUE(q.allow("alice", kT0 + 200));  // 5/s: one token per 200 ms
}

TEST(SharedQuotaTest, AUserSpreadOverEveryInstanceGetsTheFullQuotaAndNoMore) {
  const int n = 3;
  std::vector<std::unique_ptr<SharedQuota>> cluster;
  for (int i = 0; i < n; ++i) {
    cluster.push_back(std::make_unique<SharedQuota>(30, 30));
    cluster.back()->set_instances(n);
  }
  int spread = 0;
  for (auto& q : cluster) spread += allowed(*q, "alice", kT0, 100);
  EXPECT_EQ(spread, 30);
  // One second later each instance refilled a third of the rate.
  spread = 0;
  for (auto& q : cluster) spread += allowed(*q, "alice", kT0 + 1000, 100);
  EXPECT_EQ(spread, 30);
  // A user on one instance only gets rate / n.
  EXPECT_EQ(allowed(*cluster[0], "bob", kT0, 100), 10);
}

TEST(SharedQuotaTest, TheBurstNeverDropsBelowOne) {
  SharedQuota q(10, 2);
  q.set_instances(8);
  EXPECT_DOUBLE_EQ(q.local_burst(), 1);
  EXPECT_DOUBLE_EQ(q.local_rate(), 1.25);
  EXPECT_TRUE(q.allow("alice", kT0));
  EXPECT_FALSE(q.allow("alice", kT0));
}

TEST(SharedQuotaTest, ZeroInstancesCountAsOne) {
  SharedQuota q(10, 4);
  q.set_instances(0);
  EXPECT_EQ(q.instances(), 1u);
  EXPECT_EQ(allowed(q, "alice", kT0, 10), 4);
}

TEST(SharedQuotaTest, AnUnchangedCountKeepsTheBuckets) {
  SharedQuota q(10, 4);
  q.set_instances(2);
  ASSERT_EQ(allowed(q, "alice", kT0, 10), 2);
  q.set_instances(2);  // the periodic update with the same count: no fresh burst
  EXPECT_FALSE(q.allow("alice", kT0));
  q.set_instances(1);  // a change starts over, at the new share
  EXPECT_EQ(allowed(q, "alice", kT0, 10), 4);
}

}  // namespace
}  // namespace parley
