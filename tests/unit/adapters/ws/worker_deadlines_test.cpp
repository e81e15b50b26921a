#include "adapters/ws/worker_deadlines.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <vector>

namespace parley {
namespace {

using namespace std::chrono_literals;
using Clock = DeadlineList::Clock;

// A hook that records when it fired (its index in `fired`, and the time).
struct Probe : DeadlineHook {
  int index = 0;
  std::vector<int>* fired = nullptr;
  Clock::time_point at{};
  static void fire(DeadlineHook& h) {
    auto& p = static_cast<Probe&>(h);
    p.at = Clock::now();
    p.fired->push_back(p.index);
  }
};

TEST(WorkerDeadlines, FireInDueOrderNotBeforeTheirDueAndCancelledOnesNever) {
  boost::asio::io_context io;
  auto& lists = boost::asio::use_service<WorkerDeadlines>(io);
  std::vector<int> fired;
  Probe p[4];
  auto start = Clock::now();
  for (int i = 0; i < 4; ++i) {
    p[i].index = i;
    p[i].fired = &fired;
    lists.keepalive.arm(p[i], start + (10ms * (i + 1)), &Probe::fire);
  }
  DeadlineList::cancel(p[1]);
  EXPECT_FALSE(p[1].linked());
  io.run();
  EXPECT_EQ(fired, (std::vector<int>{0, 2, 3}));
  for (int i : {0, 2, 3}) {
    EXPECT_GE(p[i].at, p[i].due) << i;
    EXPECT_FALSE(p[i].linked()) << i;
  }
}

TEST(WorkerDeadlines, AnEarlierHeadReArmsTheTimerAndArmingMovesAHookBetweenLists) {
  boost::asio::io_context io;
  auto& lists = boost::asio::use_service<WorkerDeadlines>(io);
  std::vector<int> fired;
  Probe late, early, moved;
  late.index = 0, early.index = 1, moved.index = 2;
  late.fired = early.fired = moved.fired = &fired;
  auto start = Clock::now();
  lists.keepalive.arm(late, start + 200ms, &Probe::fire);
  lists.keepalive.arm(early, start + 20ms, &Probe::fire);  // before the head: the timer follows
  lists.keepalive.arm(moved, start + 300ms, &Probe::fire);
  lists.hard_close.arm(moved, start + 10ms, &Probe::fire);  // out of keepalive, into hard_close
  io.run();
  EXPECT_EQ(fired, (std::vector<int>{2, 1, 0}));
  EXPECT_LT(early.at, start + 150ms);  // not held back until the old head's 200 ms
}

TEST(WorkerDeadlines, AHookReArmedFromItsCallbackFiresAgain) {
  boost::asio::io_context io;
  auto& lists = boost::asio::use_service<WorkerDeadlines>(io);
  struct Ticker : DeadlineHook {
    DeadlineList* list = nullptr;
    int ticks = 0;
    static void fire(DeadlineHook& h) {
      auto& t = static_cast<Ticker&>(h);
      if (++t.ticks < 3) t.list->arm(t, Clock::now() + 5ms, &Ticker::fire);
    }
  } t;
  t.list = &lists.keepalive;
  lists.keepalive.arm(t, Clock::now() + 5ms, &Ticker::fire);
  io.run();
  EXPECT_EQ(t.ticks, 3);
}

TEST(WorkerDeadlines, TheIoContextGoingAwayUnlinksEveryHook) {
  std::vector<int> fired;
  Probe p;
  p.fired = &fired;
  {
    boost::asio::io_context io;
    boost::asio::use_service<WorkerDeadlines>(io).hard_close.arm(p, Clock::now() + 1h,
                                                                 &Probe::fire);
    EXPECT_TRUE(p.linked());
  }
  EXPECT_FALSE(p.linked());  // its owner may now go without touching a list that is gone
  EXPECT_TRUE(fired.empty());
}

}  // namespace
}  // namespace parley
