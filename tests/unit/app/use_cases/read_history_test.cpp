#include "app/use_cases/read_history.h"

#include <gtest/gtest.h>

#include "fakes/fake_services.h"

namespace parley {
namespace {

using fakes::Answer;
using fakes::FakeServices;

class ReadHistoryTest : public ::testing::Test {
 protected:
  ReadHistoryTest() {
    f.add_room("lobby", RoomKind::public_room);
    f.add_room("secret", RoomKind::private_room, {"alice"});
    for (int i = 1; i <= 300; ++i) {
      f.log->append({"lobby", "alice", "m" + std::to_string(i), "", nullptr},
                    [](auto r) { ASSERT_TRUE(r.ok()); });
    }
    f.log->append({"secret", "alice", "s1", "", nullptr}, [](auto) {});
  }

  // 0 stands for "not given", as most tests leave a field out.
  Answer<Page> read(const std::string& user, const std::string& room, int64_t before,
                    int64_t limit) {
    return read_exact(user, room, before ? std::optional(before) : std::nullopt,
                      limit ? std::optional(limit) : std::nullopt);
  }
  Answer<Page> read_exact(const std::string& user, const std::string& room,
                          std::optional<int64_t> before, std::optional<int64_t> limit) {
    Answer<Page> a;
    uc.handle({user, room, before, limit}, a.done());
    return a;
  }

  static std::pair<int64_t, int64_t> span(const Page& page) {
    if (page.messages.empty()) return {0, 0};
    return {page.messages.front().seq, page.messages.back().seq};
  }

  FakeServices f;
  ReadHistory uc{f.services};
};

TEST_F(ReadHistoryTest, DefaultIsTheNewestFiftyOldestFirst) {
  auto a = read("bob", "lobby", 0, 0);
  ASSERT_TRUE(a.ok());
  ASSERT_EQ(a.value().messages.size(), 50u);
  EXPECT_EQ(span(a.value()), std::make_pair(int64_t{251}, int64_t{300}));
  EXPECT_EQ(a.value().messages.front().text, "m251");
  EXPECT_TRUE(a.value().has_more);
}

TEST_F(ReadHistoryTest, LimitAboveTwoHundredIsCapped) {
  auto a = read("bob", "lobby", 0, 500);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a.value().messages.size(), 200u);
  EXPECT_EQ(span(a.value()), std::make_pair(int64_t{101}, int64_t{300}));
  EXPECT_TRUE(a.value().has_more);
}

TEST_F(ReadHistoryTest, ExplicitLimitsAreHonoured) {
  auto one = read("bob", "lobby", 0, 1);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(span(one.value()), std::make_pair(int64_t{300}, int64_t{300}));
  auto max = read("bob", "lobby", 0, 200);
  ASSERT_TRUE(max.ok());
  EXPECT_EQ(max.value().messages.size(), 200u);
}

TEST_F(ReadHistoryTest, BeforeIsExclusive) {
  auto a = read("bob", "lobby", 101, 10);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(span(a.value()), std::make_pair(int64_t{91}, int64_t{100}));
  EXPECT_TRUE(a.value().has_more);
}

TEST_F(ReadHistoryTest, TheOldestPageHasNoMore) {
  auto a = read("bob", "lobby", 6, 50);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(span(a.value()), std::make_pair(int64_t{1}, int64_t{5}));
  EXPECT_FALSE(a.value().has_more);
}

TEST_F(ReadHistoryTest, AnEmptyRoomGivesAnEmptyPage) {
  f.add_room("quiet", RoomKind::public_room);
  auto a = read("bob", "quiet", 0, 0);
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a.value().messages.empty());
  EXPECT_FALSE(a.value().has_more);
}

TEST_F(ReadHistoryTest, NegativeBeforeOrLimitIsABadRequest) {
  EXPECT_EQ(read("bob", "lobby", -1, 0).code(), Errc::bad_request);
  EXPECT_EQ(read("bob", "lobby", 0, -1).code(), Errc::bad_request);
}

TEST_F(ReadHistoryTest, ZeroBeforeOrLimitGivenIsABadRequest) {
  EXPECT_EQ(read_exact("bob", "lobby", int64_t{0}, std::nullopt).code(), Errc::bad_request);
  EXPECT_EQ(read_exact("bob", "lobby", std::nullopt, int64_t{0}).code(), Errc::bad_request);
}

TEST_F(ReadHistoryTest, UnknownRoomIsNotFound) {
  EXPECT_EQ(read("bob", "nowhere", 0, 0).code(), Errc::not_found);
}

TEST_F(ReadHistoryTest, PrivateRoomsAreReadByMembersOnly) {
  EXPECT_EQ(read("bob", "secret", 0, 0).code(), Errc::forbidden);
  auto a = read("alice", "secret", 0, 0);
  ASSERT_TRUE(a.ok());
  ASSERT_EQ(a.value().messages.size(), 1u);
  EXPECT_EQ(a.value().messages[0].text, "s1");
}

}  // namespace
}  // namespace parley
