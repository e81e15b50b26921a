#include "cli/bench/open_loop.h"

#include <gtest/gtest.h>

namespace parley::bench {
namespace {

using namespace std::chrono_literals;
using Clock = OpenLoopSchedule::Clock;

TEST(OpenLoopSchedule, SendsAreDueOnAFixedTimetable) {
  Clock::time_point t0{};
  OpenLoopSchedule s(1000.0, t0, 2s);
  EXPECT_EQ(s.total(), 2000u);
  EXPECT_EQ(s.due(0), t0);
  EXPECT_EQ(s.due(1), t0 + 1ms);
  EXPECT_EQ(s.due(1999), t0 + 1999ms);
  // No drift: send k is due at k / rate however large k is.
  OpenLoopSchedule odd(3.0, t0, 1000000s);
  EXPECT_EQ(odd.due(3000000 - 1) - t0, std::chrono::nanoseconds(999999666666667));
}

TEST(OpenLoopSchedule, ALateLookReturnsEveryMissedSendWithItsOwnDueTime) {
  // The generator stalls for 250 ms: the sends it missed are all due now, and each keeps its
  // scheduled time, so their latency counts from when they should have left (no coordinated
  // omission).
  Clock::time_point t0{};
  OpenLoopSchedule s(100.0, t0, 10s);
  EXPECT_EQ(s.due_by(t0 - 1ns), 0u);
  EXPECT_EQ(s.due_by(t0), 1u);
  EXPECT_EQ(s.due_by(t0 + 9999us), 1u);
  EXPECT_EQ(s.due_by(t0 + 10ms), 2u);
  EXPECT_EQ(s.due_by(t0 + 250ms), 26u);
  EXPECT_EQ(s.due(25), t0 + 250ms);
  EXPECT_EQ(s.due(12), t0 + 120ms);
}

TEST(OpenLoopSchedule, TheTimetableEndsAtTheDuration) {
  Clock::time_point t0{};
  OpenLoopSchedule s(1.5, t0, 2s);  // due at 0, 0.667, 1.333 s; 2.0 s is outside
  EXPECT_EQ(s.total(), 3u);
  EXPECT_EQ(s.due_by(t0 + 1h), 3u);
  OpenLoopSchedule frac(7.0, t0, 1s);
  EXPECT_EQ(frac.total(), 7u);
  for (uint64_t k = 0; k < frac.total(); ++k) EXPECT_EQ(frac.due_by(frac.due(k)), k + 1);
}

}  // namespace
}  // namespace parley::bench
