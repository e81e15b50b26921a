#include "domain/names.h"

#include <gtest/gtest.h>

#include <string>

namespace parley {
namespace {

TEST(UserNameTest, AcceptsOneToThirtyTwoNameChars) {
  EXPECT_TRUE(valid_user_name("a"));
  EXPECT_TRUE(valid_user_name("Alice_01.x-y"));
  EXPECT_TRUE(valid_user_name(std::string(32, 'u')));
}

TEST(UserNameTest, RejectsEmptyTooLongAndOtherChars) {
  EXPECT_FALSE(valid_user_name(""));
  EXPECT_FALSE(valid_user_name(std::string(33, 'u')));
  EXPECT_FALSE(valid_user_name("al ice"));
  EXPECT_FALSE(valid_user_name("alice:bob"));
  EXPECT_FALSE(valid_user_name("al/ice"));
  EXPECT_FALSE(valid_user_name("\xc3\xa9t\xc3\xa9"));  // UTF-8 letters are not name chars
  EXPECT_FALSE(valid_user_name(std::string("al\0ice", 6)));
}

TEST(RoomNameTest, AcceptsOneToSixtyFourNameChars) {
  EXPECT_TRUE(valid_room_name("r"));
  EXPECT_TRUE(valid_room_name("general.chat_2-x"));
  EXPECT_TRUE(valid_room_name(std::string(64, 'r')));
}

TEST(RoomNameTest, RejectsEmptyTooLongColonsAndSpaces) {
  EXPECT_FALSE(valid_room_name(""));
  EXPECT_FALSE(valid_room_name(std::string(65, 'r')));
  EXPECT_FALSE(valid_room_name("dm:alice:bob"));  // dm rooms are made only by `dm`
  EXPECT_FALSE(valid_room_name("two words"));
  EXPECT_FALSE(valid_room_name("#general"));
}

TEST(PasswordTest, AcceptsEightToTenTwentyFourBytes) {
  EXPECT_FALSE(valid_password(""));
  EXPECT_FALSE(valid_password(std::string(7, 'p')));
  EXPECT_TRUE(valid_password(std::string(8, 'p')));
  EXPECT_TRUE(valid_password(std::string(1024, 'p')));
  EXPECT_FALSE(valid_password(std::string(1025, 'p')));
  EXPECT_TRUE(valid_password("with spaces and \xc3\xa9"));  // any bytes
}

TEST(SessionIdTest, AcceptsEightToSixtyFourCharsWithoutDots) {
  EXPECT_FALSE(valid_session_id(std::string(7, 's')));
  EXPECT_TRUE(valid_session_id(std::string(8, 's')));
  EXPECT_TRUE(valid_session_id("Ab-09_xyZ"));
  EXPECT_TRUE(valid_session_id(std::string(64, 's')));
  EXPECT_FALSE(valid_session_id(std::string(65, 's')));
  EXPECT_FALSE(valid_session_id("abcd.efgh"));  // '.' is a name char but not a session char
  EXPECT_FALSE(valid_session_id("abcd efgh"));
}

TEST(RequestIdTest, AcceptsOneToSixtyFourOfAnything) {
  EXPECT_FALSE(valid_request_id(""));
  EXPECT_TRUE(valid_request_id("1"));
  EXPECT_TRUE(valid_request_id("any thing: goes!"));
  EXPECT_TRUE(valid_request_id(std::string(64, 'i')));
  EXPECT_FALSE(valid_request_id(std::string(65, 'i')));
}

TEST(DmRoomTest, NameIsSortedSoBothSidesAgree) {
  EXPECT_EQ(dm_room_name("alice", "bob"), "dm:alice:bob");
  EXPECT_EQ(dm_room_name("bob", "alice"), "dm:alice:bob");
  EXPECT_EQ(dm_room_name("Zed", "adam"), "dm:Zed:adam");  // byte order: uppercase first
  EXPECT_EQ(dm_room_name("bob", "bo"), "dm:bo:bob");      // a prefix sorts first
}

TEST(DmRoomTest, IsDmRoomLooksAtThePrefix) {
  EXPECT_TRUE(is_dm_room("dm:alice:bob"));
  EXPECT_FALSE(is_dm_room("dm"));
  EXPECT_FALSE(is_dm_room("dmx"));
  EXPECT_FALSE(is_dm_room("general"));
  EXPECT_FALSE(is_dm_room(""));
}

TEST(AnyRoomNameTest, AcceptsUserRoomsAndWellFormedDmRooms) {
  EXPECT_TRUE(valid_any_room_name("general"));
  EXPECT_TRUE(valid_any_room_name(dm_room_name("bob", "alice")));
  EXPECT_TRUE(valid_any_room_name("dm:" + std::string(32, 'a') + ":" + std::string(32, 'b')));
}

TEST(AnyRoomNameTest, RejectsMalformedDmRooms) {
  EXPECT_FALSE(valid_any_room_name(""));
  EXPECT_FALSE(valid_any_room_name("dm:"));
  EXPECT_FALSE(valid_any_room_name("dm:alice"));
  EXPECT_FALSE(valid_any_room_name("dm:bob:alice"));    // not sorted
  EXPECT_FALSE(valid_any_room_name("dm:alice:alice"));  // not two users
  EXPECT_FALSE(valid_any_room_name("dm::bob"));
  EXPECT_FALSE(valid_any_room_name("dm:alice:"));
  EXPECT_FALSE(valid_any_room_name("dm:alice:bob:carol"));
  EXPECT_FALSE(valid_any_room_name("dm:" + std::string(33, 'a') + ":b"));
}

}  // namespace
}  // namespace parley
