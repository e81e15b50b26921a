#include "app/use_cases/join_room.h"

#include <gtest/gtest.h>

#include "fakes/fake_services.h"

namespace parley {
namespace {

using fakes::Answer;
using fakes::FakeServices;

class JoinRoomTest : public ::testing::Test {
 protected:
  JoinRoomTest() {
    f.add_room("lobby", RoomKind::public_room);
    f.add_room("secret", RoomKind::private_room, {"alice"});
  }
  Answer<JoinRoom::Reply> join(const std::string& user, const std::string& room) {
    Answer<JoinRoom::Reply> a;
    uc.handle({user, room}, a.done());
    return a;
  }
  FakeServices f;
  JoinRoom uc{f.services};
};

TEST_F(JoinRoomTest, HeadIsZeroForAnEmptyRoom) {
  auto a = join("bob", "lobby");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a.value().head, 0);
}

TEST_F(JoinRoomTest, HeadIsTheNewestSeq) {
  for (int i = 0; i < 3; ++i) f.log->append({"lobby", "alice", "hi", "", nullptr}, [](auto) {});
  auto a = join("bob", "lobby");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a.value().head, 3);
}

TEST_F(JoinRoomTest, UnknownRoomIsNotFound) {
  EXPECT_EQ(join("bob", "nowhere").code(), Errc::not_found);
}

TEST_F(JoinRoomTest, PrivateRoomIsForMembersOnly) {
  EXPECT_EQ(join("bob", "secret").code(), Errc::forbidden);
  EXPECT_TRUE(join("alice", "secret").ok());
}

TEST_F(JoinRoomTest, ALogFailureIsPassedOn) {
  f.log->fail_with(make_error(Errc::unavailable, "down"));
  EXPECT_EQ(join("bob", "lobby").code(), Errc::unavailable);
}

}  // namespace
}  // namespace parley
