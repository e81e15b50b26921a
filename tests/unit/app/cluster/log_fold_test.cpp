#include "app/cluster/log_fold.h"

#include <gtest/gtest.h>

#include "unit/app/cluster/fold_test_util.h"

namespace parley {
namespace {

using namespace fold_test;
using Kind = Folded::Kind;

constexpr int64_t kT0 = 1'700'000'000'000;

// Feeds one partition in offset order, the append clock ticking 10 ms a record.
class Feed {
 public:
  explicit Feed(LogFold& fold, int32_t partition = 0) : fold_(fold), partition_(partition) {}

  Folded operator()(const LogRecord& r) { return at(next_, r); }
  Folded at(int64_t offset, const LogRecord& r, std::optional<int64_t> append_ms = {}) {
    LogPosition pos{partition_, offset, append_ms ? *append_ms : kT0 + offset * 10};
    next_ = offset + 1;
    auto f = fold_.apply(pos, r);
    EXPECT_TRUE(f.has_value()) << "offset " << offset << " was folded already";
    return f.value_or(Folded{});
  }
  int64_t next() const { return next_; }

 private:
  LogFold& fold_;
  int32_t partition_;
  int64_t next_ = 0;
};

TEST(LogFoldTest, SendToAnUnknownRoomIsNotFound) {
  LogFold fold;
  Feed feed(fold);
  Folded f = feed(send("lobby", "alice", "hi"));
  EXPECT_EQ(f.kind, Kind::refused);
  EXPECT_EQ(f.error.code, Errc::not_found);
  EXPECT_FALSE(f.applied());
  EXPECT_EQ(fold.head("lobby"), 0);
}

TEST(LogFoldTest, AMessageTakesItsSeqFromTheOffsetAndItsTsFromTheAppendTime) {
  LogFold fold;
  Feed feed(fold);
  feed(create("lobby", "alice"));
  Folded f = feed.at(41, send("lobby", "bob", "hello", "c1"), kT0 + 5);
  ASSERT_EQ(f.kind, Kind::message);
  EXPECT_TRUE(f.applied());
  EXPECT_EQ(f.message.room, "lobby");
  EXPECT_EQ(f.message.seq, 42);
  EXPECT_EQ(f.message.ts, kT0 + 5);
  EXPECT_EQ(f.message.msg_id, "m-lobby-bob-hello");
  EXPECT_EQ(f.message.from, "bob");
  EXPECT_EQ(f.message.text, "hello");
  EXPECT_EQ(f.message.client_msg_id, "c1");
  EXPECT_EQ(fold.head("lobby"), 42);
  EXPECT_EQ(fold.next_offset(0), 42);
}

TEST(LogFoldTest, PublicRoomsAreOpenToEveryone) {
  LogFold fold;
  Feed feed(fold);
  feed(create("lobby", "alice", false));
  EXPECT_EQ(feed(send("lobby", "mallory", "hi")).kind, Kind::message);
}

TEST(LogFoldTest, PrivateRoomsRefuseNonMembers) {
  LogFold fold;
  Feed feed(fold);
  feed(create("secret", "alice", true));
  Folded f = feed(send("secret", "mallory", "hi"));
  EXPECT_EQ(f.kind, Kind::refused);
  EXPECT_EQ(f.error.code, Errc::forbidden);
  EXPECT_EQ(feed(send("secret", "alice", "hi")).kind, Kind::message);
  EXPECT_EQ(fold.head("secret"), feed.next());  // only the member's message moved the head
}

TEST(LogFoldTest, DirectRoomsAreForTheirTwoMembersOnly) {
  LogFold fold;
  Feed feed(fold);
  ASSERT_EQ(feed(open_dm("alice", "bob")).kind, Kind::room_created);
  const std::string dm = dm_room_name("alice", "bob");
  EXPECT_EQ(feed(send(dm, "alice", "a")).kind, Kind::message);
  EXPECT_EQ(feed(send(dm, "bob", "b")).kind, Kind::message);
  Folded f = feed(send(dm, "carol", "c"));
  EXPECT_EQ(f.kind, Kind::refused);
  EXPECT_EQ(f.error.code, Errc::forbidden);
}

TEST(LogFoldTest, ASendAppendedAfterItsDeadlineExpires) {
  LogFold fold;
  Feed feed(fold);
  feed(create("lobby", "alice"));
  Folded late = feed.at(1, send("lobby", "alice", "late", "c1", kT0 + 100), kT0 + 101);
  EXPECT_EQ(late.kind, Kind::expired);
  EXPECT_EQ(late.error.code, Errc::timeout);
  EXPECT_FALSE(late.applied());
  EXPECT_EQ(fold.head("lobby"), 0);
  // Not remembered by the window either: a retry with the same id is a new message.
  EXPECT_EQ(feed.at(2, send("lobby", "alice", "late", "c1")).kind, Kind::message);
}

TEST(LogFoldTest, ASendAppendedExactlyAtItsDeadlineApplies) {
  LogFold fold;
  Feed feed(fold);
  feed(create("lobby", "alice"));
  Folded f = feed.at(1, send("lobby", "alice", "just", "", kT0 + 100), kT0 + 100);
  EXPECT_EQ(f.kind, Kind::message);
  EXPECT_EQ(feed.at(2, send("lobby", "alice", "early", "", kT0 + 100), kT0 + 99).kind,
            Kind::message);
}

TEST(LogFoldTest, NoDeadlineNeverExpires) {
  LogFold fold;
  Feed feed(fold);
  feed(create("lobby", "alice"));
  EXPECT_EQ(feed.at(1, send("lobby", "alice", "x", "", 0), INT64_MAX).kind, Kind::message);
}

TEST(LogFoldTest, TheDeadlineIsJudgedByAppendTimeNotByOffsetOrder) {
  // A record's own append time decides, even if an earlier offset was appended later
  // (clock steps on the broker): nothing but the record's position is read.
  LogFold fold;
  Feed feed(fold);
  feed(create("lobby", "alice"));
  EXPECT_EQ(feed.at(1, send("lobby", "alice", "a", "", kT0 + 50), kT0 + 60).kind, Kind::expired);
  EXPECT_EQ(feed.at(2, send("lobby", "alice", "b", "", kT0 + 50), kT0 + 40).kind, Kind::message);
}

TEST(LogFoldTest, RefusalsComeBeforeTheDeadline) {
  LogFold fold;
  Feed feed(fold);
  feed(create("secret", "alice", true));
  EXPECT_EQ(feed.at(1, send("nowhere", "alice", "x", "", kT0), kT0 + 1).error.code,
            Errc::not_found);
  EXPECT_EQ(feed.at(2, send("secret", "bob", "x", "", kT0), kT0 + 1).error.code, Errc::forbidden);
  EXPECT_EQ(feed.at(3, create("secret", "bob", false, kT0), kT0 + 1).error.code, Errc::conflict);
}

TEST(LogFoldTest, TheDeadlineAppliesToEveryKind) {
  LogFold fold;
  Feed feed(fold);
  EXPECT_EQ(feed.at(0, create("late", "alice", false, kT0), kT0 + 1).kind, Kind::expired);
  EXPECT_EQ(fold.room("late"), nullptr);
  feed(create("secret", "alice", true));
  EXPECT_EQ(feed.at(2, invite("secret", "alice", "bob", kT0), kT0 + 1).kind, Kind::expired);
  EXPECT_EQ(fold.room("secret")->members.count("bob"), 0u);
  EXPECT_EQ(feed.at(3, open_dm("alice", "bob", kT0), kT0 + 1).kind, Kind::expired);
  EXPECT_EQ(fold.room(dm_room_name("alice", "bob")), nullptr);
  // An open_dm of an existing room appended late is expired too, not room_exists.
  feed(open_dm("alice", "bob"));
  EXPECT_EQ(feed.at(5, open_dm("bob", "alice", kT0), kT0 + 1).kind, Kind::expired);
}

TEST(LogFoldTest, ARepeatedClientMsgIdGetsTheFirstResult) {
  LogFold fold;
  Feed feed(fold);
  feed(create("lobby", "alice"));
  Folded first = feed.at(1, send("lobby", "alice", "one", "c1"), kT0 + 7);
  ASSERT_EQ(first.kind, Kind::message);
  feed(send("lobby", "bob", "other"));
  Folded again = feed.at(3, send("lobby", "alice", "one, retried", "c1"), kT0 + 900);
  ASSERT_EQ(again.kind, Kind::duplicate);
  EXPECT_FALSE(again.applied());
  EXPECT_EQ(again.message.seq, first.message.seq);
  EXPECT_EQ(again.message.msg_id, first.message.msg_id);
  EXPECT_EQ(again.message.ts, kT0 + 7);
  EXPECT_EQ(again.message.room, "lobby");
  EXPECT_EQ(again.message.client_msg_id, "c1");
  EXPECT_EQ(fold.head("lobby"), 3);  // the repeat is no message
}

TEST(LogFoldTest, TheDedupeKeyIsRoomUserAndClientMsgId) {
  LogFold fold;
  Feed feed(fold);
  feed(create("a", "alice"));
  feed(create("b", "alice"));
  ASSERT_EQ(feed(send("a", "alice", "1", "c1")).kind, Kind::message);
  EXPECT_EQ(feed(send("a", "bob", "2", "c1")).kind, Kind::message);    // other user
  EXPECT_EQ(feed(send("b", "alice", "3", "c1")).kind, Kind::message);  // other room
  EXPECT_EQ(feed(send("a", "alice", "4", "c2")).kind, Kind::message);  // other id
  // The separators keep ("ab", "c") and ("a", "bc") apart.
  feed(create("ab", "alice"));
  ASSERT_EQ(feed(send("ab", "c", "5", "d")).kind, Kind::message);
  EXPECT_EQ(feed(send("a", "bc", "6", "d")).kind, Kind::message);
  EXPECT_EQ(feed(send("a", "alice", "7", "c1")).kind, Kind::duplicate);
}

TEST(LogFoldTest, SendsWithoutClientMsgIdAreNeverDuplicates) {
  LogFold fold;
  Feed feed(fold);
  feed(create("lobby", "alice"));
  EXPECT_EQ(feed(send("lobby", "alice", "x")).kind, Kind::message);
  EXPECT_EQ(feed(send("lobby", "alice", "x")).kind, Kind::message);
  EXPECT_EQ(fold.window_size(0), 0u);
}

TEST(LogFoldTest, TheWindowForgetsByOffsetDistance) {
  LogFold fold(10);
  Feed feed(fold);
  feed(create("lobby", "alice"));                                          // offset 0
  ASSERT_EQ(feed(send("lobby", "alice", "x", "c1")).kind, Kind::message);  // offset 1, seq 2
  // seq - 1 <= offset - W evicts: offset 10 still remembers (1 > 0), offset 11 does not.
  EXPECT_EQ(feed.at(10, send("lobby", "alice", "x", "c1")).kind, Kind::duplicate);
  Folded outside = feed.at(11, send("lobby", "alice", "x", "c1"));
  ASSERT_EQ(outside.kind, Kind::message);  // outside the window: a new message
  EXPECT_EQ(outside.message.seq, 12);
  // ... which the window now remembers in its turn.
  Folded again = feed.at(12, send("lobby", "alice", "x", "c1"));
  EXPECT_EQ(again.kind, Kind::duplicate);
  EXPECT_EQ(again.message.seq, 12);
}

TEST(LogFoldTest, TheWindowEvictsAcrossGapsToo) {
  LogFold fold(10);
  Feed feed(fold);
  feed(create("lobby", "alice"));
  feed(send("lobby", "alice", "x", "c1"));  // offset 1
  EXPECT_EQ(feed.at(500, send("lobby", "alice", "x", "c1")).kind, Kind::message);
  EXPECT_EQ(fold.window_size(0), 1u);
}

TEST(LogFoldTest, TheWindowNeverHoldsMoreThanWEntries) {
  LogFold fold(50);
  Feed feed(fold);
  feed(create("lobby", "alice"));
  for (int i = 0; i < 1000; ++i) {
    feed(send("lobby", "alice", "x", "c" + std::to_string(i)));
    ASSERT_LE(fold.window_size(0), 50u);
  }
  EXPECT_GE(fold.window_size(0), 49u);
}

TEST(LogFoldTest, ARaceToCreateARoomIsWonByTheFirstRecord) {
  LogFold fold;
  Feed feed(fold);
  Folded won = feed.at(0, create("lobby", "alice", true), kT0 + 3);
  ASSERT_EQ(won.kind, Kind::room_created);
  EXPECT_EQ(won.room.name, "lobby");
  EXPECT_EQ(won.room.kind, RoomKind::private_room);
  EXPECT_EQ(won.room.created_by, "alice");
  EXPECT_EQ(won.room.created_at, kT0 + 3);
  EXPECT_EQ(won.room.members, std::set<std::string>{"alice"});
  Folded lost = feed(create("lobby", "bob", false));
  EXPECT_EQ(lost.kind, Kind::refused);
  EXPECT_EQ(lost.error.code, Errc::conflict);
  EXPECT_EQ(fold.room("lobby")->created_by, "alice");
  EXPECT_EQ(fold.room("lobby")->kind, RoomKind::private_room);
}

TEST(LogFoldTest, CreatingAPublicRoom) {
  LogFold fold;
  Feed feed(fold);
  Folded f = feed(create("lobby", "alice", false));
  EXPECT_EQ(f.room.kind, RoomKind::public_room);
  EXPECT_TRUE(f.applied());
}

TEST(LogFoldTest, ACreatedRoomCannotTakeADmName) {
  LogFold fold;
  Feed feed(fold);
  Folded f = feed(create(dm_room_name("alice", "bob"), "mallory"));
  EXPECT_EQ(f.kind, Kind::refused);
  EXPECT_EQ(f.error.code, Errc::bad_request);
  EXPECT_EQ(feed(open_dm("alice", "bob")).kind, Kind::room_created);
}

TEST(LogFoldTest, OpeningADmCreatesADirectRoomOfBoth) {
  LogFold fold;
  Feed feed(fold);
  Folded f = feed.at(0, open_dm("bob", "alice"), kT0 + 9);
  ASSERT_EQ(f.kind, Kind::room_created);
  EXPECT_EQ(f.room.name, "dm:alice:bob");
  EXPECT_EQ(f.room.kind, RoomKind::direct);
  EXPECT_EQ(f.room.created_by, "bob");
  EXPECT_EQ(f.room.created_at, kT0 + 9);
  EXPECT_EQ(f.room.members, (std::set<std::string>{"alice", "bob"}));
}

TEST(LogFoldTest, OpeningAnExistingDmIsRoomExists) {
  LogFold fold;
  Feed feed(fold);
  feed(open_dm("bob", "alice"));
  Folded f = feed(open_dm("alice", "bob"));
  EXPECT_EQ(f.kind, Kind::room_exists);
  EXPECT_FALSE(f.applied());
  EXPECT_EQ(f.room.name, "dm:alice:bob");
  EXPECT_EQ(f.room.created_by, "bob");
}

TEST(LogFoldTest, AMalformedDmIsRefused) {
  LogFold fold;
  Feed feed(fold);
  LogRecord wrong = open_dm("alice", "bob");
  wrong.room = "dm:alice:carol";
  EXPECT_EQ(feed(wrong).error.code, Errc::bad_request);
  EXPECT_EQ(fold.room("dm:alice:carol"), nullptr);
  EXPECT_EQ(feed(open_dm("alice", "alice")).error.code, Errc::bad_request);
}

TEST(LogFoldTest, InviteToAnUnknownRoomIsNotFound) {
  LogFold fold;
  Feed feed(fold);
  EXPECT_EQ(feed(invite("nowhere", "alice", "bob")).error.code, Errc::not_found);
}

TEST(LogFoldTest, OnlyMembersInviteToAPrivateRoom) {
  LogFold fold;
  Feed feed(fold);
  feed(create("secret", "alice", true));
  Folded f = feed(invite("secret", "mallory", "eve"));
  EXPECT_EQ(f.kind, Kind::refused);
  EXPECT_EQ(f.error.code, Errc::forbidden);
  EXPECT_EQ(fold.room("secret")->members.count("eve"), 0u);
}

TEST(LogFoldTest, AnInviteAddsAMemberWhoMayThenSend) {
  LogFold fold;
  Feed feed(fold);
  feed(create("secret", "alice", true));
  ASSERT_EQ(feed(send("secret", "bob", "x")).error.code, Errc::forbidden);
  Folded f = feed(invite("secret", "alice", "bob"));
  ASSERT_EQ(f.kind, Kind::member_added);
  EXPECT_TRUE(f.applied());
  EXPECT_EQ(f.member, "bob");
  EXPECT_EQ(f.room.members, (std::set<std::string>{"alice", "bob"}));
  EXPECT_EQ(feed(send("secret", "bob", "x")).kind, Kind::message);
  // The new member may invite in turn.
  EXPECT_EQ(feed(invite("secret", "bob", "carol")).kind, Kind::member_added);
}

TEST(LogFoldTest, InvitingAMemberAgainIsStillMemberAdded) {
  LogFold fold;
  Feed feed(fold);
  feed(create("secret", "alice", true));
  feed(invite("secret", "alice", "bob"));
  Folded f = feed(invite("secret", "alice", "bob"));
  EXPECT_EQ(f.kind, Kind::member_added);
  EXPECT_EQ(f.room.members.size(), 2u);
}

TEST(LogFoldTest, AnyoneMayInviteToAPublicRoom) {
  LogFold fold;
  Feed feed(fold);
  feed(create("lobby", "alice", false));
  EXPECT_EQ(feed(invite("lobby", "mallory", "bob")).kind, Kind::member_added);
}

TEST(LogFoldTest, DirectRoomsTakeNoInvitations) {
  LogFold fold;
  Feed feed(fold);
  feed(open_dm("alice", "bob"));
  Folded f = feed(invite(dm_room_name("alice", "bob"), "alice", "carol"));
  EXPECT_EQ(f.kind, Kind::refused);
  EXPECT_EQ(f.error.code, Errc::forbidden);
  EXPECT_EQ(fold.room(dm_room_name("alice", "bob"))->members.size(), 2u);
}

TEST(LogFoldTest, ARecordBelowTheNextOffsetWasFoldedAlready) {
  LogFold fold;
  Feed feed(fold);
  feed(create("lobby", "alice"));
  feed(send("lobby", "alice", "x", "c1"));
  EXPECT_EQ(fold.next_offset(0), 2);
  EXPECT_FALSE(fold.apply({0, 0, kT0}, create("lobby", "alice")).has_value());
  EXPECT_FALSE(fold.apply({0, 1, kT0}, send("lobby", "alice", "x", "c1")).has_value());
  EXPECT_EQ(fold.next_offset(0), 2);
  EXPECT_EQ(fold.head("lobby"), 2);
  // ... and did not disturb the state: the next send is still decided as before.
  EXPECT_EQ(feed(send("lobby", "alice", "x", "c1")).kind, Kind::duplicate);
}

TEST(LogFoldTest, AGapMovesTheNextOffset) {
  LogFold fold;
  Feed feed(fold);
  feed(create("lobby", "alice"));
  EXPECT_EQ(feed.at(100, send("lobby", "alice", "x")).message.seq, 101);
  EXPECT_EQ(fold.next_offset(0), 101);
  EXPECT_FALSE(fold.apply({0, 50, kT0}, send("lobby", "alice", "y")).has_value());
}

TEST(LogFoldTest, APartitionNeverLoadedStartsEmptyAtAnyOffset) {
  LogFold fold;
  EXPECT_EQ(fold.next_offset(3), 0);
  auto f = fold.apply({3, 777, kT0}, create("lobby", "alice"));
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->kind, Kind::room_created);
  EXPECT_EQ(fold.next_offset(3), 778);
}

TEST(LogFoldTest, PartitionsAreIndependent) {
  LogFold fold;
  Feed p0(fold, 0), p1(fold, 1);
  p0(create("a", "alice"));
  p1(create("b", "bob"));
  p1.at(10, send("b", "bob", "x"));
  EXPECT_EQ(fold.next_offset(0), 1);
  EXPECT_EQ(fold.next_offset(1), 11);
  EXPECT_EQ(fold.head("b"), 11);
  ASSERT_NE(fold.room("a"), nullptr);
  ASSERT_NE(fold.room("b"), nullptr);
  EXPECT_EQ(fold.room("b")->created_by, "bob");
  // Each partition decides from its own rooms only.
  EXPECT_EQ(p1(send("a", "alice", "x")).error.code, Errc::not_found);
}

TEST(LogFoldTest, DroppingAPartitionForgetsItsRoomsOnly) {
  LogFold fold;
  Feed p0(fold, 0), p1(fold, 1);
  p0(create("a", "alice"));
  p1(create("b", "bob"));
  p1(send("b", "bob", "x"));
  fold.drop(1);
  EXPECT_EQ(fold.room("b"), nullptr);
  EXPECT_EQ(fold.head("b"), 0);
  EXPECT_EQ(fold.next_offset(1), 0);
  EXPECT_NE(fold.room("a"), nullptr);
  fold.drop(9);  // unknown: nothing happens
}

TEST(LogFoldTest, LoadingReplacesAPartition) {
  LogFold fold;
  Feed p0(fold, 0);
  p0(create("old", "alice"));
  PartitionSnapshot s;
  s.partition = 0;
  s.next_offset = 20;
  s.rooms.push_back(Room{"new", RoomKind::private_room, "bob", kT0, {"bob"}});
  s.heads["new"] = 17;
  s.window.push_back(WindowEntry{"new", "bob", "c1", 17, "m17", kT0 + 17});
  fold.load(s);
  EXPECT_EQ(fold.room("old"), nullptr);
  ASSERT_NE(fold.room("new"), nullptr);
  EXPECT_EQ(fold.head("new"), 17);
  EXPECT_EQ(fold.next_offset(0), 20);
  EXPECT_FALSE(fold.apply({0, 19, kT0}, send("new", "bob", "x")).has_value());
  auto dup = fold.apply({0, 20, kT0}, send("new", "bob", "x", "c1"));
  ASSERT_TRUE(dup.has_value());
  EXPECT_EQ(dup->kind, Kind::duplicate);
  EXPECT_EQ(dup->message.seq, 17);
  EXPECT_EQ(dup->message.msg_id, "m17");
  EXPECT_EQ(dup->message.ts, kT0 + 17);
}

TEST(LogFoldTest, LoadingKeepsOnlyWhatTheWindowCanHold) {
  LogFold fold(10);
  PartitionSnapshot s;
  s.next_offset = 100;
  s.rooms.push_back(Room{"r", RoomKind::public_room, "a", kT0, {"a"}});
  for (int64_t seq = 1; seq <= 120; ++seq) {  // too old, in the window, and not yet folded
    s.window.push_back(WindowEntry{"r", "a", "c" + std::to_string(seq), seq, "m", kT0});
  }
  s.window.push_back(WindowEntry{"r", "a", "again", 95, "m", kT0});  // a second entry of seq 95
  fold.load(s);
  EXPECT_EQ(fold.window_size(0), 10u);  // seq 91..100
  EXPECT_EQ(fold.apply({0, 100, kT0}, send("r", "a", "x", "c90"))->kind, Kind::message);
  EXPECT_EQ(fold.apply({0, 101, kT0}, send("r", "a", "x", "c100"))->kind, Kind::duplicate);
  EXPECT_EQ(fold.apply({0, 102, kT0}, send("r", "a", "x", "c110"))->kind, Kind::message);
}

// Bytes that are not a record move the position exactly as a record would, and evict from
// the window by the same distance: a folder that skips one and a folder that applies the next
// stay at the same place.
TEST(LogFoldTest, SkipMovesThePositionLikeARecordAndAppliesNothing) {
  LogFold fold(3);
  Feed feed(fold);
  feed(create("lobby", "alice"));             // offset 0
  feed(send("lobby", "alice", "one", "c1"));  // offset 1, seq 2
  EXPECT_TRUE(fold.skip(LogPosition{0, 2, kT0}));
  EXPECT_FALSE(fold.skip(LogPosition{0, 2, kT0}));  // folded already
  EXPECT_FALSE(fold.skip(LogPosition{0, 0, kT0}));
  EXPECT_EQ(fold.next_offset(0), 3);
  EXPECT_EQ(fold.head("lobby"), 2);
  EXPECT_TRUE(fold.skip(LogPosition{0, 4, kT0}));  // window 3: seq 2 is out once offset 4 passes
  EXPECT_EQ(fold.window_size(0), 0u);
  EXPECT_FALSE(fold.apply(LogPosition{0, 4, kT0}, send("lobby", "alice", "late")).has_value());
  Folded again = feed.at(5, send("lobby", "alice", "one", "c1"));
  EXPECT_EQ(again.kind, Kind::message);  // the first is out of the window: a new message
  EXPECT_EQ(again.message.seq, 6);
}

TEST(LogFoldTest, HoldsOnlyPartitionsLoadedOrFolded) {
  LogFold fold;
  EXPECT_FALSE(fold.holds(3));
  PartitionSnapshot s;
  s.partition = 3;
  s.next_offset = 10;
  fold.load(s);
  EXPECT_TRUE(fold.holds(3));
  fold.drop(3);
  EXPECT_FALSE(fold.holds(3));
}

}  // namespace
}  // namespace parley
