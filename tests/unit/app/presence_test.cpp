#include "app/presence.h"

#include <gtest/gtest.h>

namespace parley {
namespace {

using Users = std::vector<std::string>;

TEST(PresenceTest, FirstConnectionOfAUserIsReportedOnce) {
  Presence p;
  EXPECT_TRUE(p.add("lobby", "alice"));
  EXPECT_FALSE(p.add("lobby", "alice"));  // a second connection
  EXPECT_TRUE(p.add("lobby", "bob"));
  EXPECT_TRUE(p.add("other", "alice"));  // counted per room
}

TEST(PresenceTest, LastConnectionOfAUserIsReportedOnce) {
  Presence p;
  p.add("lobby", "alice");
  p.add("lobby", "alice");
  EXPECT_FALSE(p.remove("lobby", "alice"));
  EXPECT_EQ(p.online("lobby"), Users{"alice"});
  EXPECT_TRUE(p.remove("lobby", "alice"));
  EXPECT_EQ(p.online("lobby"), Users{});
}

TEST(PresenceTest, RemovingWhatWasNeverAddedIsNotALastLeave) {
  Presence p;
  EXPECT_FALSE(p.remove("lobby", "alice"));
  p.add("lobby", "bob");
  EXPECT_FALSE(p.remove("lobby", "alice"));
  EXPECT_TRUE(p.remove("lobby", "bob"));
  EXPECT_FALSE(p.remove("lobby", "bob"));  // not twice
}

TEST(PresenceTest, OnlineListsEachUserOnceSorted) {
  Presence p;
  p.add("lobby", "carol");
  p.add("lobby", "alice");
  p.add("lobby", "carol");
  p.add("lobby", "bob");
  p.add("other", "dave");
  EXPECT_EQ(p.online("lobby"), (Users{"alice", "bob", "carol"}));
  EXPECT_EQ(p.online("other"), Users{"dave"});
  EXPECT_EQ(p.online("empty"), Users{});
}

TEST(PresenceTest, RejoinAfterLastLeaveIsAFirstJoinAgain) {
  Presence p;
  ASSERT_TRUE(p.add("lobby", "alice"));
  ASSERT_TRUE(p.remove("lobby", "alice"));
  EXPECT_TRUE(p.add("lobby", "alice"));
}

}  // namespace
}  // namespace parley
