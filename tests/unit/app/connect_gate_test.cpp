#include "app/connect_gate.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace parley {
namespace {

constexpr int64_t kT0 = 5'000'000;

TEST(ConnectGateTest, ZeroMeansNoLimit) {
  ConnectGate gate(0, kT0);
  for (int i = 0; i < 100000; ++i) ASSERT_EQ(gate.admit(kT0), 0);
}

TEST(ConnectGateTest, OneSecondOfBurstThenRetryAfter) {
  ConnectGate gate(10, kT0);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(gate.admit(kT0), 0) << i;
  EXPECT_GE(gate.admit(kT0), 1);
  EXPECT_EQ(gate.admit(kT0 + 100), 0);  // one token back after 1/rate
}

TEST(ConnectGateTest, ARefusedHerdIsSpreadOverTime) {
  ConnectGate gate(10, kT0);
  for (int i = 0; i < 10; ++i) gate.admit(kT0);
  std::vector<int64_t> waits;
  for (int i = 0; i < 50; ++i) waits.push_back(gate.admit(kT0));
  EXPECT_EQ(waits.front(), 1);
  EXPECT_EQ(waits.back(), 5);  // the 50th refused gets the slot 5 s out
  EXPECT_TRUE(std::is_sorted(waits.begin(), waits.end()));
  for (int i = 0; i < 1000; ++i) gate.admit(kT0);
  EXPECT_EQ(gate.admit(kT0), ConnectGate::kMaxRetryAfterS);  // capped
}

}  // namespace
}  // namespace parley
