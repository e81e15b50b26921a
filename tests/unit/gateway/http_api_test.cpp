#include "gateway/http_api.h"

#include <gtest/gtest.h>

namespace parley {
namespace {

TEST(ParseHistoryTargetTest, ReadsTheRoomAndTheParameters) {
  auto q = parse_history_target("/api/rooms/lobby/messages?before=10&limit=50");
  ASSERT_TRUE(q.ok()) << q.error().message;
  EXPECT_EQ(q->room, "lobby");
  EXPECT_EQ(q->before, 10);
  EXPECT_EQ(q->limit, 50);

  auto plain = parse_history_target("/api/rooms/lobby/messages");
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->before.has_value());
  EXPECT_FALSE(plain->limit.has_value());
  auto empty = parse_history_target("/api/rooms/lobby/messages?before=&limit=");
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(empty->before.has_value());
  EXPECT_FALSE(empty->limit.has_value());
}

TEST(ParseHistoryTargetTest, RoomNamesArePercentDecoded) {
  for (const char* target :
       {"/api/rooms/dm%3Aalice%3Abob/messages", "/api/rooms/dm%3aalice%3abob/messages",
        "/api/rooms/dm:alice:bob/messages"}) {
    auto q = parse_history_target(target);
    ASSERT_TRUE(q.ok()) << target;
    EXPECT_EQ(q->room, "dm:alice:bob") << target;
  }
}

TEST(ParseHistoryTargetTest, RangesAreLeftToReadHistory) {
  auto q = parse_history_target("/api/rooms/lobby/messages?before=-1&limit=0");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->before, -1);
  EXPECT_EQ(q->limit, 0);
}

TEST(ParseHistoryTargetTest, ParametersThatAreNotIntegersAreBadRequests) {
  for (const char* target :
       {"/api/rooms/lobby/messages?limit=abc", "/api/rooms/lobby/messages?before=1x",
        "/api/rooms/lobby/messages?before=99999999999999999999",
        "/api/rooms/lobby/messages?limit=+5", "/api/rooms/lobby%zz/messages", "no-slash"}) {
    auto q = parse_history_target(target);
    ASSERT_FALSE(q.ok()) << target;
    EXPECT_EQ(q.error().code, Errc::bad_request) << target;
  }
}

TEST(ParseHistoryTargetTest, OtherTargetsAndRoomNamesNoRoomCanHaveAreNotFound) {
  for (const char* target :
       {"/healthz", "/api/rooms/lobby/messages/", "/api/rooms/lobby", "/api/rooms//messages",
        "/api/rooms/a%2Fb/messages", "/api/rooms/lob%00by/messages",
        "/api/rooms/dm%3Azoe%3Abob/messages",  // a dm room's names are sorted
        "/api/rooms/rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr/messages"}) {
    auto q = parse_history_target(target);
    ASSERT_FALSE(q.ok()) << target;
    EXPECT_EQ(q.error().code, Errc::not_found) << target;
  }
}

}  // namespace
}  // namespace parley
