#include "app/use_cases/create_room.h"

#include <gtest/gtest.h>

#include "fakes/fake_services.h"

namespace parley {
namespace {

using fakes::Answer;
using fakes::FakeServices;

class CreateRoomTest : public ::testing::Test {
 protected:
  Answer<Room> create(const std::string& user, const std::string& room, bool is_private = false,
                      DeadlinePtr deadline = nullptr) {
    Answer<Room> a;
    uc.handle({user, room, is_private, std::move(deadline)}, a.done());
    return a;
  }
  FakeServices f;
  CreateRoom uc{f.services};
};

TEST_F(CreateRoomTest, PublicRoomIsStoredThenKnownToTheDirectory) {
  auto a = create("alice", "lobby");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a.value().name, "lobby");
  EXPECT_EQ(a.value().kind, RoomKind::public_room);
  EXPECT_EQ(a.value().created_by, "alice");
  EXPECT_EQ(a.value().created_at, f.clock->now_ms());
  EXPECT_EQ(a.value().members, std::set<std::string>{"alice"});

  auto stored = f.rooms->room("lobby");
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->kind, RoomKind::public_room);
  EXPECT_EQ(stored->members, std::set<std::string>{"alice"});
  EXPECT_TRUE(f.services.directory.check_access("lobby", "bob").ok());
}

TEST_F(CreateRoomTest, PastItsDeadlineTheRoomIsNeverCreated) {
  auto due = std::make_shared<Deadline>(f.clock->steady_ms());
  auto a = create("alice", "late", false, due);
  EXPECT_EQ(a.code(), Errc::timeout);
  EXPECT_FALSE(f.rooms->room("late").has_value());
  EXPECT_FALSE(f.services.directory.exists("late"));
  auto expired_by_timer = std::make_shared<Deadline>(f.clock->steady_ms() + 1000);
  ASSERT_TRUE(expired_by_timer->expire());
  EXPECT_EQ(create("alice", "late", false, expired_by_timer).code(), Errc::timeout);
  EXPECT_FALSE(f.rooms->room("late").has_value());
  // In time: created, and the deadline is claimed (the timer can no longer answer).
  auto in_time = std::make_shared<Deadline>(f.clock->steady_ms() + 1000);
  EXPECT_TRUE(create("alice", "late", false, in_time).ok());
  EXPECT_FALSE(in_time->expire());
}

TEST_F(CreateRoomTest, PrivateRoomAdmitsOnlyItsCreator) {
  ASSERT_TRUE(create("alice", "secret", true).ok());
  EXPECT_EQ(f.rooms->room("secret")->kind, RoomKind::private_room);
  EXPECT_EQ(f.services.directory.kind("secret"), RoomKind::private_room);
  EXPECT_TRUE(f.services.directory.check_access("secret", "alice").ok());
  EXPECT_EQ(f.services.directory.check_access("secret", "bob").error().code, Errc::forbidden);
}

TEST_F(CreateRoomTest, AnExistingRoomIsAConflict) {
  ASSERT_TRUE(create("alice", "lobby").ok());
  EXPECT_EQ(create("bob", "lobby", true).code(), Errc::conflict);
  EXPECT_EQ(f.rooms->room("lobby")->created_by, "alice");
  EXPECT_EQ(f.services.directory.kind("lobby"), RoomKind::public_room);
}

TEST_F(CreateRoomTest, AConflictFoundOnlyByTheStoreIsPassedOn) {
  // Another instance created it: the store knows, this directory does not yet.
  f.rooms->put(Room{"lobby", RoomKind::private_room, "zed", 1, {"zed"}});
  EXPECT_EQ(create("alice", "lobby").code(), Errc::conflict);
  EXPECT_FALSE(f.services.directory.exists("lobby"));
}

TEST_F(CreateRoomTest, BadNamesAreBadRequestsAndStoreNothing) {
  for (const std::string& name : {std::string(), std::string(65, 'r'), std::string("two words"),
                                  std::string("dm:alice:bob"), std::string("caf\xc3\xa9")}) {
    EXPECT_EQ(create("alice", name).code(), Errc::bad_request) << name;
  }
  EXPECT_EQ(f.rooms->creates(), 0);
  EXPECT_EQ(f.services.directory.size(), 0u);
  EXPECT_TRUE(create("alice", std::string(64, 'r')).ok());
}

TEST_F(CreateRoomTest, AStoreFailureLeavesTheDirectoryUnchanged) {
  f.rooms->fail_with(make_error(Errc::unavailable, "down"));
  EXPECT_EQ(create("alice", "lobby").code(), Errc::unavailable);
  EXPECT_FALSE(f.services.directory.exists("lobby"));
}

TEST_F(CreateRoomTest, OnlyPublicRoomsAreAnnounced) {
  ASSERT_TRUE(create("alice", "lobby").ok());
  ASSERT_TRUE(create("alice", "secret", true).ok());
  auto events = f.events->events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].name, "room.created");
  EXPECT_EQ(events[0].room, "lobby");
  EXPECT_EQ(events[0].user, "alice");
}

TEST_F(CreateRoomTest, RoomCreationIsQuotedPerUser) {
  // Each public room is announced to every connection: one user's creations are rate limited.
  Limits limits;
  limits.room_creates_per_second = 1;
  limits.room_create_burst = 3;
  FakeServices g(limits);
  CreateRoom quoted{g.services};
  auto make = [&](const std::string& user, const std::string& room) {
    Answer<Room> a;
    quoted.handle({user, room, false, nullptr}, a.done());
    return a;
  };
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(make("alice", "r" + std::to_string(i)).ok());
  EXPECT_EQ(make("alice", "r3").code(), Errc::rate_limited);
  EXPECT_FALSE(g.services.directory.exists("r3"));
  EXPECT_TRUE(make("bob", "b0").ok());  // another user has a quota of his own
  g.clock->advance(1000);
  EXPECT_TRUE(make("alice", "r3").ok());
}

}  // namespace
}  // namespace parley
