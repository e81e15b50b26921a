#include "app/room_directory.h"

#include <gtest/gtest.h>

namespace parley {
namespace {

Room make_room(std::string name, RoomKind kind, std::set<std::string> members = {}) {
  return Room{std::move(name), kind, "alice", 1, std::move(members)};
}

class RoomDirectoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir.load({make_room("lobby", RoomKind::public_room, {"alice"}),
              make_room("secret", RoomKind::private_room, {"alice", "bob"}),
              make_room("dm:alice:bob", RoomKind::direct, {"alice", "bob"})});
  }
  RoomDirectory dir;
};

TEST_F(RoomDirectoryTest, PublicRoomsAreOpenToEveryUser) {
  EXPECT_TRUE(dir.check_access("lobby", "alice").ok());
  EXPECT_TRUE(dir.check_access("lobby", "mallory").ok());  // no need to be a member
}

TEST_F(RoomDirectoryTest, PrivateRoomsAreForMembersOnly) {
  EXPECT_TRUE(dir.check_access("secret", "bob").ok());
  auto st = dir.check_access("secret", "mallory");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, Errc::forbidden);
}

TEST_F(RoomDirectoryTest, DmRoomsAreForTheirTwoUsersOnly) {
  EXPECT_TRUE(dir.check_access("dm:alice:bob", "alice").ok());
  EXPECT_TRUE(dir.check_access("dm:alice:bob", "bob").ok());
  auto st = dir.check_access("dm:alice:bob", "carol");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, Errc::forbidden);
}

TEST_F(RoomDirectoryTest, UnknownRoomIsNotFoundNotForbidden) {
  auto st = dir.check_access("nowhere", "alice");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, Errc::not_found);
}

TEST_F(RoomDirectoryTest, AddMemberGrantsAccessToAPrivateRoom) {
  ASSERT_EQ(dir.check_access("secret", "carol").error().code, Errc::forbidden);
  dir.add_member("secret", "carol");
  EXPECT_TRUE(dir.check_access("secret", "carol").ok());
}

TEST_F(RoomDirectoryTest, AddMemberOfUnknownRoomCreatesNothing) {
  dir.add_member("nowhere", "carol");
  EXPECT_FALSE(dir.exists("nowhere"));
  EXPECT_EQ(dir.size(), 3u);
}

TEST_F(RoomDirectoryTest, AddRoomRefusesADuplicateAndKeepsTheFirst) {
  EXPECT_TRUE(dir.add_room(make_room("new", RoomKind::private_room, {"carol"})));
  EXPECT_FALSE(dir.add_room(make_room("new", RoomKind::public_room)));
  EXPECT_EQ(dir.kind("new"), RoomKind::private_room);
  EXPECT_EQ(dir.check_access("new", "alice").error().code, Errc::forbidden);
  EXPECT_EQ(dir.size(), 4u);
}

TEST_F(RoomDirectoryTest, ExistsAndKind) {
  EXPECT_TRUE(dir.exists("lobby"));
  EXPECT_FALSE(dir.exists("Lobby"));  // names are case-sensitive
  EXPECT_EQ(dir.kind("lobby"), RoomKind::public_room);
  EXPECT_EQ(dir.kind("secret"), RoomKind::private_room);
  EXPECT_EQ(dir.kind("dm:alice:bob"), RoomKind::direct);
  EXPECT_EQ(dir.kind("nowhere"), std::nullopt);
}

TEST_F(RoomDirectoryTest, LoadReplacesEverything) {
  dir.load({make_room("only", RoomKind::public_room)});
  EXPECT_EQ(dir.size(), 1u);
  EXPECT_FALSE(dir.exists("lobby"));
  EXPECT_TRUE(dir.exists("only"));
}

}  // namespace
}  // namespace parley
