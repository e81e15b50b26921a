#include "app/cluster/cluster_presence.h"

#include <gtest/gtest.h>

namespace parley {
namespace {

using Users = std::vector<std::string>;
using Changes = std::vector<MemberChange>;
constexpr int64_t kT0 = 1'000'000;

MemberChange joined(const std::string& room, const std::string& user) {
  return {MemberChange::Kind::joined, room, user};
}
MemberChange left(const std::string& room, const std::string& user) {
  return {MemberChange::Kind::left, room, user};
}

ClusterPresence make(size_t max_instances = 1024, size_t max_entries = 1'000'000) {
  ClusterPresence::Options o;
  o.self = "me";
  o.timeout_ms = 6000;
  o.max_instances = max_instances;
  o.max_entries = max_entries;
  return ClusterPresence(o);
}

TEST(ClusterPresenceTest, AFirstHeartbeatAnnouncesItsUsers) {
  auto p = make();
  Changes c = p.replace("b", kT0, {{"lobby", "bob"}, {"lobby", "alice"}, {"x", "bob"}});
  EXPECT_EQ(c, (Changes{joined("lobby", "alice"), joined("lobby", "bob"), joined("x", "bob")}));
  EXPECT_EQ(p.online("lobby"), (Users{"alice", "bob"}));
  EXPECT_EQ(p.online("x"), Users{"bob"});
  EXPECT_EQ(p.online("nowhere"), Users{});
}

TEST(ClusterPresenceTest, AnUnchangedHeartbeatAnnouncesNothing) {
  auto p = make();
  p.replace("b", kT0, {{"lobby", "bob"}});
  EXPECT_TRUE(p.replace("b", kT0 + 2000, {{"lobby", "bob"}}).empty());
}

TEST(ClusterPresenceTest, AHeartbeatReplacesTheInstancesSet) {
  auto p = make();
  p.replace("b", kT0, {{"lobby", "bob"}, {"lobby", "carol"}});
  Changes c = p.replace("b", kT0 + 2000, {{"lobby", "carol"}, {"lobby", "dave"}});
  EXPECT_EQ(c, (Changes{left("lobby", "bob"), joined("lobby", "dave")}));
  EXPECT_EQ(p.online("lobby"), (Users{"carol", "dave"}));
  EXPECT_EQ(p.entries(), 2u);
}

TEST(ClusterPresenceTest, DuplicatesInAHeartbeatCountOnce) {
  auto p = make();
  Changes c = p.replace("b", kT0, {{"lobby", "bob"}, {"lobby", "bob"}});
  EXPECT_EQ(c, Changes{joined("lobby", "bob")});
  EXPECT_EQ(p.entries(), 1u);
  EXPECT_EQ(p.replace("b", kT0, {}), Changes{left("lobby", "bob")});
}

TEST(ClusterPresenceTest, AUserOnTwoInstancesJoinsOnceAndLeavesOnce) {
  auto p = make();
  EXPECT_EQ(p.replace("b", kT0, {{"lobby", "bob"}}), Changes{joined("lobby", "bob")});
  EXPECT_TRUE(p.replace("c", kT0, {{"lobby", "bob"}}).empty());
  EXPECT_TRUE(p.replace("b", kT0 + 1, {}).empty());  // still on c
  EXPECT_EQ(p.online("lobby"), Users{"bob"});
  EXPECT_EQ(p.replace("c", kT0 + 1, {}), Changes{left("lobby", "bob")});
  EXPECT_EQ(p.online("lobby"), Users{});
}

TEST(ClusterPresenceTest, ALocalUserIsNotAnnouncedByRemoteHeartbeats) {
  auto p = make();
  EXPECT_TRUE(p.local_joined("lobby", "bob"));  // first anywhere: announce
  EXPECT_TRUE(p.replace("b", kT0, {{"lobby", "bob"}}).empty());
  EXPECT_TRUE(p.replace("b", kT0 + 1, {}).empty());  // still here
  EXPECT_TRUE(p.local_left("lobby", "bob"));         // gone everywhere: announce
}

TEST(ClusterPresenceTest, ARemoteUserIsNotAnnouncedByLocalTransitions) {
  auto p = make();
  p.replace("b", kT0, {{"lobby", "bob"}});
  EXPECT_FALSE(p.local_joined("lobby", "bob"));
  EXPECT_TRUE(p.online_remotely("lobby", "bob"));
  EXPECT_FALSE(p.local_left("lobby", "bob"));  // still on b
  EXPECT_EQ(p.replace("b", kT0 + 1, {}), Changes{left("lobby", "bob")});
}

TEST(ClusterPresenceTest, OnlineListsRemoteUsersOnly) {
  auto p = make();
  p.local_joined("lobby", "alice");
  p.replace("b", kT0, {{"lobby", "carol"}, {"lobby", "bob"}});
  p.replace("c", kT0, {{"lobby", "bob"}});
  EXPECT_EQ(p.online("lobby"), (Users{"bob", "carol"}));
  EXPECT_FALSE(p.online_remotely("lobby", "alice"));
}

TEST(ClusterPresenceTest, ALocalLeaveOfSomeoneNeverJoinedIsNoEvent) {
  auto p = make();
  EXPECT_FALSE(p.local_left("lobby", "bob"));
  p.local_joined("lobby", "bob");
  EXPECT_FALSE(p.local_joined("lobby", "bob"));  // not twice
  EXPECT_TRUE(p.local_left("lobby", "bob"));
  EXPECT_FALSE(p.local_left("lobby", "bob"));
}

TEST(ClusterPresenceTest, OwnHeartbeatsAreIgnored) {
  auto p = make();
  EXPECT_TRUE(p.replace("me", kT0, {{"lobby", "bob"}}).empty());
  EXPECT_EQ(p.online("lobby"), Users{});
  EXPECT_EQ(p.live_instances(kT0), 0u);
}

TEST(ClusterPresenceTest, ASilentInstanceExpiresAfterTheTimeout) {
  auto p = make();
  p.replace("b", kT0, {{"lobby", "bob"}, {"x", "bob"}});
  EXPECT_TRUE(p.expire(kT0 + 6000).empty());  // silent for exactly the timeout: still alive
  EXPECT_EQ(p.live_instances(kT0 + 6000), 1u);
  EXPECT_EQ(p.live_instances(kT0 + 6001), 0u);
  EXPECT_EQ(p.expire(kT0 + 6001), (Changes{left("lobby", "bob"), left("x", "bob")}));
  EXPECT_EQ(p.online("lobby"), Users{});
  EXPECT_EQ(p.entries(), 0u);
  EXPECT_TRUE(p.expire(kT0 + 60000).empty());
}

TEST(ClusterPresenceTest, ExpiryAnnouncesOnlyUsersGoneEverywhere) {
  auto p = make();
  p.replace("b", kT0, {{"lobby", "bob"}, {"lobby", "carol"}, {"lobby", "dave"}});
  p.replace("c", kT0 + 5000, {{"lobby", "carol"}});
  p.local_joined("lobby", "dave");
  EXPECT_EQ(p.expire(kT0 + 7000), Changes{left("lobby", "bob")});
  EXPECT_EQ(p.online("lobby"), Users{"carol"});
  EXPECT_EQ(p.live_instances(kT0 + 7000), 1u);
}

TEST(ClusterPresenceTest, AHeartbeatKeepsAnInstanceAlive) {
  auto p = make();
  p.replace("b", kT0, {{"lobby", "bob"}});
  p.replace("b", kT0 + 5000, {{"lobby", "bob"}});
  EXPECT_TRUE(p.expire(kT0 + 10000).empty());
  // A late heartbeat with an older clock does not move it back.
  p.replace("b", kT0 + 1, {{"lobby", "bob"}});
  EXPECT_TRUE(p.expire(kT0 + 11000).empty());
}

TEST(ClusterPresenceTest, AnExpiredInstanceComesBackWithItsUsers) {
  auto p = make();
  p.replace("b", kT0, {{"lobby", "bob"}});
  p.expire(kT0 + 7000);
  EXPECT_EQ(p.replace("b", kT0 + 8000, {{"lobby", "bob"}}), Changes{joined("lobby", "bob")});
}

TEST(ClusterPresenceTest, ForgetDropsAnInstanceAtOnce) {
  auto p = make();
  p.replace("b", kT0, {{"lobby", "bob"}});
  EXPECT_EQ(p.forget("b"), Changes{left("lobby", "bob")});
  EXPECT_TRUE(p.forget("b").empty());
  EXPECT_EQ(p.live_instances(kT0), 0u);
}

TEST(ClusterPresenceTest, InstancesAreCapped) {
  auto p = make(2);
  p.replace("b", kT0, {{"lobby", "bob"}});
  p.replace("c", kT0, {{"lobby", "carol"}});
  EXPECT_TRUE(p.replace("d", kT0, {{"lobby", "dave"}}).empty());
  EXPECT_EQ(p.dropped_heartbeats(), 1u);
  EXPECT_EQ(p.online("lobby"), (Users{"bob", "carol"}));
  // Known instances still get through, and a slot freed by expiry is taken.
  EXPECT_EQ(p.replace("b", kT0 + 5000, {}), Changes{left("lobby", "bob")});
  p.expire(kT0 + 6001);  // c is gone
  EXPECT_EQ(p.replace("d", kT0 + 6001, {{"lobby", "dave"}}), Changes{joined("lobby", "dave")});
  EXPECT_EQ(p.dropped_heartbeats(), 1u);
}

TEST(ClusterPresenceTest, EntriesAreCappedOverAllInstances) {
  auto p = make(1024, 3);
  p.replace("b", kT0, {{"r", "a"}, {"r", "b"}});
  Changes c = p.replace("c", kT0, {{"r", "c"}, {"r", "d"}, {"r", "e"}});
  EXPECT_EQ(c, Changes{joined("r", "c")});  // one fits: the first in (room, user) order
  EXPECT_EQ(p.dropped_entries(), 2u);
  EXPECT_EQ(p.entries(), 3u);
  // Re-sending its own set does not count it twice against the cap.
  EXPECT_TRUE(p.replace("b", kT0 + 1, {{"r", "a"}, {"r", "b"}}).empty());
  EXPECT_EQ(p.dropped_entries(), 2u);
  // Space freed by one instance is usable by another.
  EXPECT_EQ(p.replace("b", kT0 + 2, {}), (Changes{left("r", "a"), left("r", "b")}));
  EXPECT_EQ(p.replace("c", kT0 + 2, {{"r", "c"}, {"r", "d"}, {"r", "e"}}),
            (Changes{joined("r", "d"), joined("r", "e")}));
  EXPECT_EQ(p.entries(), 3u);
}

}  // namespace
}  // namespace parley
