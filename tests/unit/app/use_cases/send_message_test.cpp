#include "app/use_cases/send_message.h"

#include <gtest/gtest.h>

#include "fakes/fake_services.h"

namespace parley {
namespace {

using fakes::Answer;
using fakes::FakeServices;

class SendMessageTest : public ::testing::Test {
 protected:
  explicit SendMessageTest(Limits limits = {}) : f(limits) {
    f.add_room("lobby", RoomKind::public_room, {"carol"});
    f.add_room("secret", RoomKind::private_room, {"alice", "bob"});
  }

  Answer<Appended> send(const std::string& user, const std::string& room, const std::string& text,
                        const std::string& client_msg_id = "", DeadlinePtr deadline = nullptr) {
    Answer<Appended> a;
    uc.handle({user, room, text, client_msg_id, std::move(deadline)}, a.done());
    return a;
  }

  FakeServices f;
  SendMessage uc{f.services};
};

TEST_F(SendMessageTest, AppendsToThePublicRoomAndAnswersWithThePosition) {
  f.clock->set_now(1'700'000'123'456);
  auto a = send("alice", "lobby", "hello");  // alice is not a member: public rooms are open
  ASSERT_TRUE(a.ok());
  const Message& m = a.value().message;
  EXPECT_EQ(m.room, "lobby");
  EXPECT_EQ(m.seq, 1);
  EXPECT_EQ(m.from, "alice");
  EXPECT_EQ(m.text, "hello");
  EXPECT_EQ(m.ts, 1'700'000'123'456);
  EXPECT_FALSE(m.msg_id.empty());
  EXPECT_TRUE(m.client_msg_id.empty());
  EXPECT_FALSE(a.value().duplicate);

  auto b = send("bob", "lobby", "hi");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b.value().message.seq, 2);
  EXPECT_EQ(f.log->messages("lobby").size(), 2u);
}

TEST_F(SendMessageTest, MembersMaySendToAPrivateRoom) {
  auto a = send("bob", "secret", "psst");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a.value().message.room, "secret");
  EXPECT_EQ(a.value().message.seq, 1);
}

TEST_F(SendMessageTest, EmptyTextIsABadRequest) {
  EXPECT_EQ(send("alice", "lobby", "").code(), Errc::bad_request);
  EXPECT_EQ(f.log->appends(), 0);
}

TEST_F(SendMessageTest, TextUpToTheLimitIsAcceptedOneByteMoreIsTooLarge) {
  ASSERT_EQ(f.services.limits.max_text_bytes, 4096u);
  EXPECT_TRUE(send("alice", "lobby", std::string(4096, 'x')).ok());
  EXPECT_EQ(send("alice", "lobby", std::string(4097, 'x')).code(), Errc::too_large);
  EXPECT_EQ(f.log->messages("lobby").size(), 1u);
}

TEST_F(SendMessageTest, TheTextLimitCountsBytesNotCharacters) {
  std::string e_acute = "\xc3\xa9";  // two bytes of UTF-8
  std::string text;
  for (int i = 0; i < 2049; ++i) text += e_acute;  // 2049 characters, 4098 bytes
  EXPECT_EQ(send("alice", "lobby", text).code(), Errc::too_large);
}

TEST_F(SendMessageTest, OverlongClientMsgIdIsABadRequest) {
  EXPECT_TRUE(send("alice", "lobby", "a", std::string(128, 'c')).ok());
  EXPECT_EQ(send("alice", "lobby", "b", std::string(129, 'c')).code(), Errc::bad_request);
}

TEST_F(SendMessageTest, UnknownRoomIsNotFound) {
  EXPECT_EQ(send("alice", "nowhere", "hello").code(), Errc::not_found);
  EXPECT_EQ(f.log->appends(), 0);
}

TEST_F(SendMessageTest, NonMemberOfAPrivateRoomIsForbidden) {
  EXPECT_EQ(send("carol", "secret", "let me in").code(), Errc::forbidden);
  EXPECT_EQ(f.log->appends(), 0);
}

TEST_F(SendMessageTest, SameClientMsgIdReturnsTheFirstResultAndStoresNothingNew) {
  auto first = send("alice", "lobby", "once", "c-1");
  ASSERT_TRUE(first.ok());
  f.clock->advance(5000);
  auto again = send("alice", "lobby", "once (retry)", "c-1");
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again.value().duplicate);
  EXPECT_EQ(again.value().message.seq, first.value().message.seq);
  EXPECT_EQ(again.value().message.msg_id, first.value().message.msg_id);
  EXPECT_EQ(again.value().message.ts, first.value().message.ts);
  EXPECT_EQ(again.value().message.text, "once");
  EXPECT_EQ(again.value().message.client_msg_id, "c-1");
  EXPECT_EQ(f.log->messages("lobby").size(), 1u);
}

TEST_F(SendMessageTest, ClientMsgIdIsScopedToSenderAndRoom) {
  ASSERT_TRUE(send("alice", "lobby", "a", "c-1").ok());
  auto other_user = send("carol", "lobby", "b", "c-1");
  ASSERT_TRUE(other_user.ok());
  EXPECT_FALSE(other_user.value().duplicate);
  EXPECT_EQ(other_user.value().message.seq, 2);
  auto other_room = send("alice", "secret", "c", "c-1");
  ASSERT_TRUE(other_room.ok());
  EXPECT_FALSE(other_room.value().duplicate);
  EXPECT_EQ(other_room.value().message.seq, 1);
}

TEST_F(SendMessageTest, AnExpiredDeadlineIsATimeoutAndNothingIsStored) {
  auto deadline = std::make_shared<Deadline>(f.clock->steady_ms() - 1);
  EXPECT_EQ(send("alice", "lobby", "late", "", deadline).code(), Errc::timeout);
  EXPECT_TRUE(deadline->expired());
  EXPECT_TRUE(f.log->messages("lobby").empty());
}

TEST_F(SendMessageTest, AFutureDeadlineIsClaimedSoTheTimerCannotExpireIt) {
  auto deadline = std::make_shared<Deadline>(f.clock->steady_ms() + 1000);
  ASSERT_TRUE(send("alice", "lobby", "in time", "", deadline).ok());
  EXPECT_FALSE(deadline->expire());
}

TEST_F(SendMessageTest, ALogFailureIsPassedOn) {
  f.log->fail_with(make_error(Errc::unavailable, "disk on fire"));
  EXPECT_EQ(send("alice", "lobby", "hello").code(), Errc::unavailable);
}

class SendMessageRateTest : public SendMessageTest {
 protected:
  static Limits slow() {
    Limits l;
    l.sends_per_second = 1;
    l.send_burst = 2;
    return l;
  }
  SendMessageRateTest() : SendMessageTest(slow()) {}
};

TEST_F(SendMessageRateTest, BeyondTheBurstIsRateLimitedUntilTokensRefill) {
  EXPECT_TRUE(send("alice", "lobby", "1").ok());
  EXPECT_TRUE(send("alice", "lobby", "2").ok());
  EXPECT_EQ(send("alice", "lobby", "3").code(), Errc::rate_limited);
  EXPECT_EQ(f.log->messages("lobby").size(), 2u);
  EXPECT_TRUE(send("carol", "lobby", "other user").ok());  // per user
  f.clock->advance(999);
  EXPECT_EQ(send("alice", "lobby", "3").code(), Errc::rate_limited);
  f.clock->advance(1);
  EXPECT_TRUE(send("alice", "lobby", "3").ok());
}

TEST_F(SendMessageRateTest, RefusedSendsDoNotSpendTokens) {
  EXPECT_EQ(send("carol", "secret", "x").code(), Errc::forbidden);
  EXPECT_EQ(send("carol", "lobby", "").code(), Errc::bad_request);
  EXPECT_TRUE(send("carol", "lobby", "1").ok());
  EXPECT_TRUE(send("carol", "lobby", "2").ok());
}

}  // namespace
}  // namespace parley
