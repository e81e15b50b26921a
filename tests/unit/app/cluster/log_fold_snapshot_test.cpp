// The fold as the cluster uses it: many folders over the same records must agree, and a fold
// rebuilt from what a persister stored must go on exactly like one that saw everything.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <vector>

#include "app/cluster/log_fold.h"
#include "unit/app/cluster/fold_test_util.h"

namespace parley {
namespace {

using namespace fold_test;

constexpr int64_t kT0 = 1'700'000'000'000;
constexpr int32_t kPartitions = 3;

struct Entry {
  LogPosition at;
  LogRecord record;
};

// A random but reproducible log over few rooms, users and client ids, so that every rule fires:
// conflicts, duplicates in and out of the window, late records, gaps, refusals.
std::vector<Entry> random_log(uint32_t seed, int n) {
  std::mt19937 rng(seed);
  auto pick = [&](int k) { return static_cast<int>(rng() % static_cast<uint32_t>(k)); };
  const std::vector<std::string> rooms = {"r0", "r1", "r2", "r3", "r4", "r5"};
  const std::vector<std::string> users = {"u0", "u1", "u2", "u3"};
  std::map<int32_t, int64_t> next;
  int64_t clock = kT0;
  std::vector<Entry> log;
  for (int i = 0; i < n; ++i) {
    LogRecord r;
    const int what = pick(20);
    const std::string user = users[pick(4)];
    std::string room = rooms[pick(6)];
    if (what < 11) {
      r = send(room, user, "t" + std::to_string(i),
               pick(3) == 0 ? "" : "c" + std::to_string(pick(6)));
      r.msg_id = "m" + std::to_string(i);
    } else if (what < 14) {
      r = create(room, user, pick(2) == 0);
    } else if (what < 17) {
      r = invite(room, user, users[pick(4)]);
    } else {
      std::string other = users[pick(4)];
      if (other == user) other = "u9";
      r = open_dm(user, other);
      room = r.room;
    }
    clock += pick(30);
    if (pick(5) == 0) r.deadline_ms = clock + pick(40) - 20;  // some late, some in time
    const int32_t partition = static_cast<int32_t>(std::hash<std::string>{}(room) % kPartitions);
    int64_t& offset = next[partition];
    if (pick(10) == 0) offset += 1 + pick(5);  // a gap (transaction markers)
    log.push_back(Entry{{partition, offset, clock}, r});
    ++offset;
  }
  return log;
}

// What a persister stores from the outcomes, built without asking the fold: rooms with members,
// heads, messages with a client id, and the next offset of each partition.
struct Stored {
  std::map<int32_t, std::map<std::string, Room>> rooms;
  std::map<int32_t, std::map<std::string, int64_t>> heads;
  std::map<int32_t, std::vector<WindowEntry>> messages;
  std::map<int32_t, int64_t> next;

  void store(const LogPosition& at, const Folded& f) {
    next[at.partition] = at.offset + 1;
    switch (f.kind) {
      case Folded::Kind::message:
        heads[at.partition][f.message.room] = f.message.seq;
        if (!f.message.client_msg_id.empty()) {
          messages[at.partition].push_back(WindowEntry{f.message.room, f.message.from,
                                                       f.message.client_msg_id, f.message.seq,
                                                       f.message.msg_id, f.message.ts});
        }
        break;
      case Folded::Kind::room_created:
        rooms[at.partition][f.room.name] = f.room;
        heads[at.partition][f.room.name] = 0;
        break;
      case Folded::Kind::member_added:
        rooms[at.partition][f.room.name].members.insert(f.member);
        break;
      default:
        break;
    }
  }

  // The start-up query: every room, its head, and the window entries with seq > next - W.
  PartitionSnapshot snapshot(int32_t partition, int64_t window) {
    PartitionSnapshot s;
    s.partition = partition;
    s.next_offset = next[partition];
    for (auto& [name, room] : rooms[partition]) s.rooms.push_back(room);
    for (auto& [name, head] : heads[partition]) s.heads[name] = head;
    for (auto& e : messages[partition]) {
      if (e.seq > s.next_offset - window) s.window.push_back(e);
    }
    return s;
  }
};

void expect_same_snapshot(const PartitionSnapshot& a, const PartitionSnapshot& b) {
  EXPECT_EQ(a.partition, b.partition);
  EXPECT_EQ(a.next_offset, b.next_offset);
  ASSERT_EQ(a.rooms.size(), b.rooms.size());
  for (size_t i = 0; i < a.rooms.size(); ++i) {
    EXPECT_EQ(a.rooms[i].name, b.rooms[i].name);
    EXPECT_EQ(a.rooms[i].kind, b.rooms[i].kind);
    EXPECT_EQ(a.rooms[i].created_by, b.rooms[i].created_by);
    EXPECT_EQ(a.rooms[i].created_at, b.rooms[i].created_at);
    EXPECT_EQ(a.rooms[i].members, b.rooms[i].members);
  }
  EXPECT_EQ(a.heads, b.heads);
  ASSERT_EQ(a.window.size(), b.window.size());
  for (size_t i = 0; i < a.window.size(); ++i) {
    EXPECT_EQ(a.window[i].seq, b.window[i].seq);
    EXPECT_EQ(a.window[i].room, b.window[i].room);
    EXPECT_EQ(a.window[i].user, b.window[i].user);
    EXPECT_EQ(a.window[i].client_msg_id, b.window[i].client_msg_id);
    EXPECT_EQ(a.window[i].msg_id, b.window[i].msg_id);
    EXPECT_EQ(a.window[i].ts, b.window[i].ts);
  }
}

TEST(LogFoldSnapshotTest, TheRandomLogExercisesEveryOutcome) {
  // Guards the tests below: they prove little if the log never hit a rule.
  LogFold fold(16);
  std::map<Folded::Kind, int> kinds;
  std::map<Errc, int> errors;
  for (const Entry& e : random_log(7, 3000)) {
    auto f = fold.apply(e.at, e.record);
    ASSERT_TRUE(f.has_value());
    ++kinds[f->kind];
    if (f->kind == Folded::Kind::refused) ++errors[f->error.code];
  }
  for (auto k : {Folded::Kind::message, Folded::Kind::duplicate, Folded::Kind::refused,
                 Folded::Kind::expired, Folded::Kind::room_created, Folded::Kind::member_added,
                 Folded::Kind::room_exists}) {
    EXPECT_GT(kinds[k], 0) << static_cast<int>(k);
  }
  for (auto c : {Errc::not_found, Errc::forbidden, Errc::conflict}) {
    EXPECT_GT(errors[c], 0) << wire_name(c);
  }
}

TEST(LogFoldSnapshotTest, TwoFoldsOfTheSameRecordsDecideTheSame) {
  for (uint32_t seed : {1u, 2u, 3u}) {
    LogFold a(16), b(16);
    for (const Entry& e : random_log(seed, 2000)) {
      auto fa = a.apply(e.at, e.record);
      auto fb = b.apply(e.at, e.record);
      ASSERT_TRUE(same(fa, fb)) << "seed " << seed << " offset " << e.at.offset;
    }
    for (int32_t p = 0; p < kPartitions; ++p) expect_same_snapshot(a.snapshot(p), b.snapshot(p));
  }
}

TEST(LogFoldSnapshotTest, AFoldRebuiltFromWhatWasStoredGoesOnLikeOneThatSawEverything) {
  const int64_t window = 16;
  const auto log = random_log(11, 2000);
  for (size_t cut : {size_t{0}, size_t{1}, size_t{37}, size_t{500}, size_t{1234}, log.size()}) {
    LogFold whole(window), before(window);
    Stored stored;
    std::vector<std::optional<Folded>> expected;
    for (size_t i = 0; i < log.size(); ++i) {
      expected.push_back(whole.apply(log[i].at, log[i].record));
      if (i < cut) {
        auto f = before.apply(log[i].at, log[i].record);
        ASSERT_TRUE(same(f, expected.back()));
        stored.store(log[i].at, *f);
      }
    }
    LogFold after(window);
    for (int32_t p = 0; p < kPartitions; ++p) {
      PartitionSnapshot s = stored.snapshot(p, window);
      expect_same_snapshot(before.snapshot(p), s);  // the helper agrees with the persister
      after.load(std::move(s));
    }
    // A persister re-reading from the start after a crash: what was folded is skipped.
    for (size_t i = 0; i < cut; ++i) {
      ASSERT_FALSE(after.apply(log[i].at, log[i].record).has_value()) << i;
    }
    for (size_t i = cut; i < log.size(); ++i) {
      ASSERT_TRUE(same(after.apply(log[i].at, log[i].record), expected[i]))
          << "cut " << cut << " record " << i;
    }
    for (int32_t p = 0; p < kPartitions; ++p) {
      expect_same_snapshot(after.snapshot(p), whole.snapshot(p));
      EXPECT_LE(after.window_size(p), static_cast<size_t>(window));
    }
  }
}

TEST(LogFoldSnapshotTest, TheSnapshotHelperRoundTrips) {
  LogFold a(8);
  for (const Entry& e : random_log(5, 500)) ASSERT_TRUE(a.apply(e.at, e.record).has_value());
  LogFold b(8);
  for (int32_t p = 0; p < kPartitions; ++p) b.load(a.snapshot(p));
  for (int32_t p = 0; p < kPartitions; ++p) {
    expect_same_snapshot(a.snapshot(p), b.snapshot(p));
    EXPECT_EQ(a.next_offset(p), b.next_offset(p));
  }
  EXPECT_EQ(a.snapshot(99).next_offset, 0);  // a partition never folded is empty
  EXPECT_TRUE(a.snapshot(99).rooms.empty());
}

}  // namespace
}  // namespace parley
