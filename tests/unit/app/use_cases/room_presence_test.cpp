// The ephemeral ops: typing, presence, and entering and leaving a room's presence.
#include <gtest/gtest.h>

#include "app/use_cases/enter_room.h"
#include "app/use_cases/leave_room.h"
#include "app/use_cases/read_presence.h"
#include "app/use_cases/send_typing.h"
#include "fakes/fake_services.h"

namespace parley {
namespace {

using fakes::Answer;
using fakes::FakeServices;

class RoomPresenceTest : public ::testing::Test {
 protected:
  RoomPresenceTest() {
    f.add_room("lobby", RoomKind::public_room);
    f.add_room("secret", RoomKind::private_room, {"alice"});
  }
  bool enter(const std::string& user, const std::string& room, uint64_t origin) {
    Answer<EnterRoom::Reply> a;
    enter_.handle({user, room, origin}, a.done());
    EXPECT_TRUE(a.ok());
    return a.value().first;
  }
  bool leave(const std::string& user, const std::string& room, bool was_present, uint64_t origin) {
    Answer<LeaveRoom::Reply> a;
    leave_.handle({user, room, was_present, origin}, a.done());
    EXPECT_TRUE(a.ok());
    return a.value().last;
  }
  Answer<ReadPresence::Reply> presence(const std::string& user, const std::string& room) {
    Answer<ReadPresence::Reply> a;
    presence_.handle({user, room, nullptr}, a.done());
    return a;
  }

  FakeServices f;
  EnterRoom enter_{f.services};
  LeaveRoom leave_{f.services};
  ReadPresence presence_{f.services};
  SendTyping typing_{f.services};
};

TEST_F(RoomPresenceTest, FirstConnectionInAndLastOutAreAnnounced) {
  EXPECT_TRUE(enter("alice", "lobby", 1));
  EXPECT_FALSE(enter("alice", "lobby", 2));  // her second connection: no new event
  EXPECT_FALSE(leave("alice", "lobby", true, 1));
  EXPECT_TRUE(leave("alice", "lobby", true, 2));
  auto events = f.events->events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].name, "member.joined");
  EXPECT_EQ(events[0].origin, 1u);
  EXPECT_EQ(events[1].name, "member.left");
  EXPECT_EQ(events[1].origin, 2u);
}

TEST_F(RoomPresenceTest, LeavingARoomNeverEnteredChangesNothing) {
  EXPECT_TRUE(enter("alice", "lobby", 1));
  EXPECT_FALSE(leave("alice", "lobby", false, 7));  // a join that never completed
  EXPECT_EQ(presence("alice", "lobby").value().online, std::vector<std::string>{"alice"});
  EXPECT_EQ(f.events->events().size(), 1u);
}

TEST_F(RoomPresenceTest, PresenceListsEachUserOnceForMembersOnly) {
  enter("bob", "lobby", 1);
  enter("alice", "lobby", 2);
  enter("alice", "lobby", 3);
  auto a = presence("carol", "lobby");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a.value().online, (std::vector<std::string>{"alice", "bob"}));
  EXPECT_EQ(presence("bob", "secret").code(), Errc::forbidden);
  EXPECT_EQ(presence("bob", "nowhere").code(), Errc::not_found);
}

TEST_F(RoomPresenceTest, TypingIsAnnouncedToTheRoomOnlyWhenAllowed) {
  Answer<SendTyping::Reply> ok, forbidden, missing;
  typing_.handle({"alice", "secret", 4, nullptr}, ok.done());
  typing_.handle({"bob", "secret", 5, nullptr}, forbidden.done());
  typing_.handle({"bob", "nowhere", 6, nullptr}, missing.done());
  EXPECT_TRUE(ok.ok());
  EXPECT_EQ(forbidden.code(), Errc::forbidden);
  EXPECT_EQ(missing.code(), Errc::not_found);
  auto events = f.events->events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].name, "typing");
  EXPECT_EQ(events[0].room, "secret");
  EXPECT_EQ(events[0].user, "alice");
  EXPECT_EQ(events[0].origin, 4u);
}

TEST_F(RoomPresenceTest, PastTheirDeadlineTypingTellsNobodyAndPresenceReadsNothing) {
  enter("alice", "lobby", 1);
  size_t events_before = f.events->events().size();
  auto expired = std::make_shared<Deadline>(f.clock->steady_ms() + 1000);
  ASSERT_TRUE(expired->expire());  // the gateway's timer answered `timeout` first
  Answer<SendTyping::Reply> typed;
  typing_.handle({"alice", "lobby", 4, expired}, typed.done());
  EXPECT_EQ(typed.code(), Errc::timeout);
  EXPECT_EQ(f.events->events().size(), events_before) << "a typing past its ttl was announced";
  Answer<ReadPresence::Reply> read;
  presence_.handle({"alice", "lobby", expired}, read.done());
  EXPECT_EQ(read.code(), Errc::timeout);
  // In time: each applies, and claims its deadline (the timer can no longer answer).
  auto in_time = std::make_shared<Deadline>(f.clock->steady_ms() + 1000);
  Answer<SendTyping::Reply> typed_in_time;
  typing_.handle({"alice", "lobby", 4, in_time}, typed_in_time.done());
  EXPECT_TRUE(typed_in_time.ok());
  EXPECT_FALSE(in_time->expire());
  EXPECT_EQ(f.events->events().size(), events_before + 1);
}

}  // namespace
}  // namespace parley
