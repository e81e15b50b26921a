#include "app/use_cases/open_dm.h"

#include <gtest/gtest.h>

#include "fakes/fake_services.h"

namespace parley {
namespace {

using fakes::Answer;
using fakes::FakeServices;

class OpenDmTest : public ::testing::Test {
 protected:
  OpenDmTest() {
    for (auto u : {"alice", "bob", "carol"}) f.add_user(u);
  }
  Answer<OpenDm::Reply> dm(const std::string& user, const std::string& peer,
                           DeadlinePtr deadline = nullptr) {
    Answer<OpenDm::Reply> a;
    uc.handle({user, peer, std::move(deadline)}, a.done());
    return a;
  }
  FakeServices f;
  OpenDm uc{f.services};
};

TEST_F(OpenDmTest, PastItsDeadlineTheRoomIsNeverCreated) {
  auto due = std::make_shared<Deadline>(f.clock->steady_ms());
  EXPECT_EQ(dm("alice", "bob", due).code(), Errc::timeout);
  EXPECT_FALSE(f.rooms->room("dm:alice:bob").has_value());
  EXPECT_FALSE(f.services.directory.exists("dm:alice:bob"));
}

TEST_F(OpenDmTest, TheRoomIsNamedAfterBothUsersSorted) {
  auto a = dm("bob", "alice");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a.value().room, "dm:alice:bob");
  auto stored = f.rooms->room("dm:alice:bob");
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->kind, RoomKind::direct);
  EXPECT_EQ(stored->members, (std::set<std::string>{"alice", "bob"}));
  EXPECT_EQ(stored->created_by, "bob");
}

TEST_F(OpenDmTest, OnlyTheTwoUsersHaveAccess) {
  ASSERT_TRUE(dm("alice", "bob").ok());
  auto& dir = f.services.directory;
  EXPECT_EQ(dir.kind("dm:alice:bob"), RoomKind::direct);
  EXPECT_TRUE(dir.check_access("dm:alice:bob", "alice").ok());
  EXPECT_TRUE(dir.check_access("dm:alice:bob", "bob").ok());
  EXPECT_EQ(dir.check_access("dm:alice:bob", "carol").error().code, Errc::forbidden);
}

TEST_F(OpenDmTest, YourselfIsABadRequest) {
  EXPECT_EQ(dm("alice", "alice").code(), Errc::bad_request);
  EXPECT_EQ(f.rooms->size(), 0u);
}

TEST_F(OpenDmTest, UnknownUserIsNotFound) {
  EXPECT_EQ(dm("alice", "nobody").code(), Errc::not_found);
  EXPECT_EQ(dm("alice", "not a name").code(), Errc::not_found);
  EXPECT_EQ(dm("alice", "").code(), Errc::not_found);
  EXPECT_EQ(f.rooms->size(), 0u);
  EXPECT_EQ(f.services.directory.size(), 0u);
}

TEST_F(OpenDmTest, ASecondDmFromEitherSideIsTheSameRoom) {
  auto first = dm("alice", "bob");
  auto again = dm("alice", "bob");
  auto reverse = dm("bob", "alice");
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE(reverse.ok());
  EXPECT_EQ(again.value().room, first.value().room);
  EXPECT_EQ(reverse.value().room, first.value().room);
  EXPECT_EQ(f.rooms->size(), 1u);
  EXPECT_EQ(f.services.directory.size(), 1u);
}

TEST_F(OpenDmTest, ADmRoomAlreadyStoredElsewhereIsAdopted) {
  // Made by another instance: the store has it, this directory not yet.
  f.rooms->put(Room{"dm:alice:bob", RoomKind::direct, "alice", 1, {"alice", "bob"}});
  auto a = dm("bob", "alice");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a.value().room, "dm:alice:bob");
  EXPECT_TRUE(f.services.directory.check_access("dm:alice:bob", "bob").ok());
  EXPECT_EQ(f.rooms->size(), 1u);
}

TEST_F(OpenDmTest, DifferentPairsGetDifferentRooms) {
  ASSERT_TRUE(dm("alice", "bob").ok());
  auto a = dm("carol", "alice");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a.value().room, "dm:alice:carol");
  EXPECT_EQ(f.services.directory.check_access("dm:alice:carol", "bob").error().code,
            Errc::forbidden);
}

}  // namespace
}  // namespace parley
