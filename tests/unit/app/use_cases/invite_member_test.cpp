#include "app/use_cases/invite_member.h"

#include <gtest/gtest.h>

#include "fakes/fake_services.h"

namespace parley {
namespace {

using fakes::Answer;
using fakes::FakeServices;

class InviteMemberTest : public ::testing::Test {
 protected:
  InviteMemberTest() {
    for (auto u : {"alice", "bob", "carol", "mallory"}) f.add_user(u);
    f.add_room("lobby", RoomKind::public_room, {"alice"});
    f.add_room("secret", RoomKind::private_room, {"alice"});
    f.add_room("dm:alice:bob", RoomKind::direct, {"alice", "bob"});
  }
  Answer<InviteMember::Reply> invite(const std::string& user, const std::string& room,
                                     const std::string& invitee, DeadlinePtr deadline = nullptr) {
    Answer<InviteMember::Reply> a;
    uc.handle({user, room, invitee, std::move(deadline)}, a.done());
    return a;
  }
  bool can_access(const std::string& room, const std::string& user) {
    return f.services.directory.check_access(room, user).ok();
  }
  FakeServices f;
  InviteMember uc{f.services};
};

TEST_F(InviteMemberTest, PastItsDeadlineTheInviteeIsNeverAdded) {
  auto due = std::make_shared<Deadline>(f.clock->steady_ms());
  EXPECT_EQ(invite("alice", "secret", "bob", due).code(), Errc::timeout);
  EXPECT_FALSE(can_access("secret", "bob"));
  EXPECT_EQ(f.rooms->room("secret")->members, std::set<std::string>{"alice"});
  auto in_time = std::make_shared<Deadline>(f.clock->steady_ms() + 1000);
  EXPECT_TRUE(invite("alice", "secret", "bob", in_time).ok());
  EXPECT_TRUE(can_access("secret", "bob"));
}

TEST_F(InviteMemberTest, AMemberInvitesAndTheInviteeGainsAccess) {
  ASSERT_FALSE(can_access("secret", "bob"));
  ASSERT_TRUE(invite("alice", "secret", "bob").ok());
  EXPECT_TRUE(can_access("secret", "bob"));
  EXPECT_EQ(f.rooms->room("secret")->members, (std::set<std::string>{"alice", "bob"}));
  // And the new member may invite in turn.
  ASSERT_TRUE(invite("bob", "secret", "carol").ok());
  EXPECT_TRUE(can_access("secret", "carol"));
}

TEST_F(InviteMemberTest, InvitingAMemberAgainIsOk) {
  ASSERT_TRUE(invite("alice", "secret", "bob").ok());
  EXPECT_TRUE(invite("alice", "secret", "bob").ok());
  EXPECT_EQ(f.rooms->room("secret")->members.size(), 2u);
}

TEST_F(InviteMemberTest, UnknownUserIsNotFound) {
  EXPECT_EQ(invite("alice", "secret", "nobody").code(), Errc::not_found);
  EXPECT_FALSE(can_access("secret", "nobody"));
  EXPECT_EQ(f.rooms->room("secret")->members.size(), 1u);
}

TEST_F(InviteMemberTest, InvalidUserNameIsNotFound) {
  EXPECT_EQ(invite("alice", "secret", "no body").code(), Errc::not_found);
  EXPECT_EQ(invite("alice", "secret", "").code(), Errc::not_found);
}

TEST_F(InviteMemberTest, NonMemberOfAPrivateRoomIsForbidden) {
  EXPECT_EQ(invite("mallory", "secret", "mallory").code(), Errc::forbidden);
  EXPECT_EQ(invite("mallory", "secret", "bob").code(), Errc::forbidden);
  EXPECT_FALSE(can_access("secret", "mallory"));
  EXPECT_FALSE(can_access("secret", "bob"));
}

TEST_F(InviteMemberTest, UnknownRoomIsNotFound) {
  EXPECT_EQ(invite("alice", "nowhere", "bob").code(), Errc::not_found);
}

TEST_F(InviteMemberTest, DmRoomsTakeNoInvitations) {
  EXPECT_EQ(invite("alice", "dm:alice:bob", "carol").code(), Errc::forbidden);
  EXPECT_FALSE(can_access("dm:alice:bob", "carol"));
}

TEST_F(InviteMemberTest, AnyoneMayInviteToAPublicRoom) {
  EXPECT_TRUE(invite("mallory", "lobby", "bob").ok());
  EXPECT_EQ(f.rooms->room("lobby")->members, (std::set<std::string>{"alice", "bob"}));
}

TEST_F(InviteMemberTest, AStoreFailureLeavesTheDirectoryUnchanged) {
  f.rooms->fail_with(make_error(Errc::unavailable, "down"));
  EXPECT_EQ(invite("alice", "secret", "bob").code(), Errc::unavailable);
  EXPECT_FALSE(can_access("secret", "bob"));
}

}  // namespace
}  // namespace parley
