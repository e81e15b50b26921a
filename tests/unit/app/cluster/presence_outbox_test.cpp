// The presence protocol's two halves together: PresenceOutbox (publisher) and ClusterPresence
// (receiver): deltas, coalescing, chunking, snapshots and gap repair.
#include "app/cluster/presence_outbox.h"

#include <gtest/gtest.h>

#include "app/cluster/cluster_presence.h"

namespace parley {
namespace {

using Pair = PresenceOutbox::Pair;
using Pairs = std::vector<Pair>;
using Users = std::vector<std::string>;
using Changes = std::vector<MemberChange>;
constexpr int64_t kT0 = 1'000'000;

MemberChange joined(const std::string& room, const std::string& user) {
  return {MemberChange::Kind::joined, room, user};
}
MemberChange left(const std::string& room, const std::string& user) {
  return {MemberChange::Kind::left, room, user};
}

ClusterPresence receiver() {
  ClusterPresence::Options o;
  o.self = "me";
  o.ask_every_ms = 1000;
  return ClusterPresence(o);
}

// Hands every delta to the receiver as instance "b" would; returns the changes.
Changes deliver(ClusterPresence& r, const std::vector<PresenceOutbox::Delta>& deltas,
                int64_t now = kT0) {
  Changes all;
  for (const auto& d : deltas) {
    auto u = r.delta("b", now, d.seq, d.joined, d.left);
    EXPECT_FALSE(u.ask_snapshot) << "delta " << d.seq;
    all.insert(all.end(), u.changes.begin(), u.changes.end());
  }
  return all;
}

Changes deliver(ClusterPresence& r, const PresenceOutbox::Snapshot& s, int64_t now = kT0) {
  Changes all;
  for (size_t i = 0; i < s.chunks.size(); ++i) {
    auto u = r.snapshot("b", now,
                        {s.id, s.seq, static_cast<uint32_t>(i),
                         static_cast<uint32_t>(s.chunks.size()), s.chunks[i]});
    all.insert(all.end(), u.changes.begin(), u.changes.end());
  }
  return all;
}

TEST(PresenceOutboxTest, DeltasCarryTheNetChangesNumberedFromOne) {
  PresenceOutbox out;
  EXPECT_TRUE(out.take_deltas().empty());
  out.joined("lobby", "bob");
  out.joined("lobby", "carol");
  out.joined("x", "dave");
  out.left("x", "dave");  // joined and left within one batch: not sent
  auto d = out.take_deltas();
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].seq, 1u);
  EXPECT_EQ(d[0].joined, (Pairs{{"lobby", "bob"}, {"lobby", "carol"}}));
  EXPECT_TRUE(d[0].left.empty());
  out.left("lobby", "bob");
  out.joined("lobby", "carol");  // already online: no change
  out.left("lobby", "carol");
  out.joined("lobby", "carol");  // left and back within one batch: not sent
  d = out.take_deltas();
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].seq, 2u);
  EXPECT_TRUE(d[0].joined.empty());
  EXPECT_EQ(d[0].left, (Pairs{{"lobby", "bob"}}));
  EXPECT_TRUE(out.take_deltas().empty());  // nothing changed: nothing sent, number kept
  EXPECT_EQ(out.seq(), 2u);
}

TEST(PresenceOutboxTest, AJoinStormIsCutIntoBoundedRecords) {
  PresenceOutbox out(1024);
  for (int i = 0; i < 1000; ++i)
    out.joined("room-" + std::to_string(i % 7), "u" + std::to_string(i));
  auto d = out.take_deltas();
  ASSERT_GT(d.size(), 10u);
  size_t pairs = 0;
  for (size_t k = 0; k < d.size(); ++k) {
    EXPECT_EQ(d[k].seq, k + 1);
    size_t bytes = 0;
    for (const auto& p : d[k].joined) bytes += PresenceOutbox::cost(p);
    EXPECT_LE(bytes, 1024u);
    pairs += d[k].joined.size();
  }
  EXPECT_EQ(pairs, 1000u);
}

TEST(PresenceOutboxTest, ASnapshotIsTheSetAsOfTheLastDeltaInBoundedChunks) {
  PresenceOutbox out(256);
  for (int i = 0; i < 100; ++i) out.joined("r", "user-" + std::to_string(i));
  out.take_deltas();
  out.joined("r", "late");  // not taken yet: not in the snapshot
  out.left("r", "user-0");  // not taken yet: still in the snapshot
  auto s = out.snapshot();
  EXPECT_EQ(s.seq, out.seq());
  EXPECT_GT(s.chunks.size(), 5u);
  size_t n = 0;
  bool has_late = false, has_0 = false;
  for (const auto& c : s.chunks) {
    size_t bytes = 0;
    for (const auto& p : c) {
      bytes += PresenceOutbox::cost(p);
      has_late |= p.second == "late";
      has_0 |= p.second == "user-0";
    }
    EXPECT_LE(bytes, 256u);
    n += c.size();
  }
  EXPECT_EQ(n, 100u);
  EXPECT_FALSE(has_late);
  EXPECT_TRUE(has_0);
  EXPECT_EQ(out.snapshot().id, s.id + 1);
  // An empty set is one empty chunk: the receiver still learns it is complete.
  PresenceOutbox empty;
  EXPECT_EQ(empty.snapshot().chunks.size(), 1u);
}

TEST(PresenceProtocolTest, AReceiverFromTheStartFollowsDeltasWithoutASnapshot) {
  PresenceOutbox out;
  auto r = receiver();
  EXPECT_FALSE(r.heartbeat("b", kT0, 0).ask_snapshot);  // a new instance: nobody online
  out.joined("lobby", "bob");
  out.joined("lobby", "carol");
  EXPECT_EQ(deliver(r, out.take_deltas()),
            (Changes{joined("lobby", "bob"), joined("lobby", "carol")}));
  out.left("lobby", "bob");
  EXPECT_EQ(deliver(r, out.take_deltas()), Changes{left("lobby", "bob")});
  EXPECT_FALSE(r.heartbeat("b", kT0 + 2000, out.seq()).ask_snapshot);
  EXPECT_EQ(r.online("lobby"), Users{"carol"});
  EXPECT_EQ(r.gaps(), 0u);
}

TEST(PresenceProtocolTest, AReceiverThatCameLateAsksForASnapshotAndIsThenExact) {
  PresenceOutbox out;
  for (int i = 0; i < 500; ++i) out.joined("r" + std::to_string(i % 5), "u" + std::to_string(i));
  out.take_deltas();
  auto r = receiver();
  // It sees only a heartbeat: it knows nothing of b's set, so it asks (once per second).
  EXPECT_TRUE(r.heartbeat("b", kT0, out.seq()).ask_snapshot);
  EXPECT_FALSE(r.heartbeat("b", kT0 + 500, out.seq()).ask_snapshot);
  EXPECT_EQ(r.live_instances(kT0 + 500), 1u);
  PresenceOutbox small(512);  // the same set, in small chunks
  for (int i = 0; i < 500; ++i) small.joined("r" + std::to_string(i % 5), "u" + std::to_string(i));
  small.take_deltas();
  auto snap = small.snapshot();
  ASSERT_GT(snap.chunks.size(), 3u);
  // Every chunk but the last changes nothing yet; the last one applies the whole set.
  Changes c = deliver(r, snap);
  EXPECT_EQ(c.size(), 500u);
  EXPECT_EQ(r.online("r0").size(), 100u);
  EXPECT_EQ(r.entries(), 500u);
  EXPECT_FALSE(r.heartbeat("b", kT0 + 2000, small.seq()).ask_snapshot);
  // Deltas after the snapshot apply on it.
  small.left("r0", "u0");
  EXPECT_EQ(deliver(r, small.take_deltas()), Changes{left("r0", "u0")});
}

TEST(PresenceProtocolTest, AMissedDeltaIsSeenAndRepairedByASnapshot) {
  PresenceOutbox out;
  auto r = receiver();
  out.joined("lobby", "bob");
  deliver(r, out.take_deltas());
  out.joined("lobby", "carol");
  out.take_deltas();  // lost (never produced)
  out.left("lobby", "bob");
  out.joined("lobby", "dave");
  auto d = out.take_deltas();
  ASSERT_EQ(d.size(), 1u);
  auto u = r.delta("b", kT0, d[0].seq, d[0].joined, d[0].left);
  EXPECT_TRUE(u.ask_snapshot);                                                     // 3 after 1
  EXPECT_EQ(u.changes, (Changes{left("lobby", "bob"), joined("lobby", "dave")}));  // still applied
  EXPECT_EQ(r.gaps(), 1u);
  EXPECT_EQ(deliver(r, out.snapshot()), Changes{joined("lobby", "carol")});
  EXPECT_EQ(r.online("lobby"), (Users{"carol", "dave"}));
  EXPECT_FALSE(r.heartbeat("b", kT0 + 2000, out.seq()).ask_snapshot);
}

TEST(PresenceProtocolTest, AMissedLastDeltaIsSeenByTheHeartbeat) {
  PresenceOutbox out;
  auto r = receiver();
  out.joined("lobby", "bob");
  deliver(r, out.take_deltas());
  out.left("lobby", "bob");
  out.take_deltas();  // lost; nothing changes afterwards
  EXPECT_TRUE(r.heartbeat("b", kT0 + 2000, out.seq()).ask_snapshot);
  EXPECT_EQ(deliver(r, out.snapshot()), Changes{left("lobby", "bob")});
  EXPECT_EQ(r.online("lobby"), Users{});
}

TEST(PresenceProtocolTest, ADuplicateDeltaOrAnotherInstancesSnapshotChangesNothing) {
  PresenceOutbox out;
  auto r = receiver();
  out.joined("lobby", "bob");
  auto d = out.take_deltas();
  deliver(r, d);
  EXPECT_TRUE(r.delta("b", kT0, d[0].seq, {}, d[0].joined).changes.empty());  // seen already
  EXPECT_EQ(r.online("lobby"), Users{"bob"});
  EXPECT_TRUE(deliver(r, out.snapshot()).empty());  // same number: not even read
  EXPECT_EQ(r.gaps(), 0u);
}

TEST(PresenceProtocolTest, AChunkMissedAsksAgainAndKeepsTheOldSet) {
  PresenceOutbox out(64);
  auto r = receiver();
  EXPECT_TRUE(r.heartbeat("b", kT0, 7).ask_snapshot);
  for (int i = 0; i < 20; ++i) out.joined("r", "user-" + std::to_string(i));
  out.take_deltas();
  auto s = out.snapshot();
  ASSERT_GT(s.chunks.size(), 2u);
  const auto n = static_cast<uint32_t>(s.chunks.size());
  EXPECT_TRUE(r.snapshot("b", kT0 + 100, {s.id, s.seq, 0, n, s.chunks[0]}).changes.empty());
  // Chunk 1 lost: chunk 2 is refused, and a snapshot is asked for again (once a second).
  EXPECT_FALSE(r.snapshot("b", kT0 + 200, {s.id, s.seq, 2, n, s.chunks[2]}).ask_snapshot);
  EXPECT_TRUE(r.snapshot("b", kT0 + 1200, {s.id, s.seq, 2, n, s.chunks[2]}).ask_snapshot);
  EXPECT_EQ(r.online("r"), Users{});
  EXPECT_EQ(deliver(r, out.snapshot(), kT0 + 1300).size(), 20u);
  EXPECT_EQ(r.online("r").size(), 20u);
}

TEST(PresenceProtocolTest, ASilentPublisherStillExpiresWithItsUsers) {
  PresenceOutbox out;
  auto r = receiver();
  out.joined("lobby", "bob");
  deliver(r, out.take_deltas(), kT0);
  r.heartbeat("b", kT0 + 2000, out.seq());
  EXPECT_TRUE(r.expire(kT0 + 8000).empty());
  EXPECT_EQ(r.expire(kT0 + 8001), Changes{left("lobby", "bob")});
}

TEST(PresenceProtocolTest, HundredThousandPairsRoundTrip) {
  PresenceOutbox out;
  auto r = receiver();
  r.heartbeat("b", kT0, 0);
  for (int u = 0; u < 2000; ++u) {
    for (int k = 0; k < 50; ++k)
      out.joined("room-" + std::to_string((u * 50 + k) % 10000), "user-" + std::to_string(u));
  }
  auto d = out.take_deltas();
  EXPECT_GT(d.size(), 20u);
  EXPECT_EQ(deliver(r, d).size(), 100'000u);
  EXPECT_EQ(r.entries(), 100'000u);
  auto r2 = receiver();  // a newcomer: one snapshot
  EXPECT_TRUE(r2.heartbeat("b", kT0, out.seq()).ask_snapshot);
  EXPECT_EQ(deliver(r2, out.snapshot()).size(), 100'000u);
  EXPECT_EQ(r2.online("room-42"), r.online("room-42"));
  EXPECT_EQ(r2.online("room-42").size(), 10u);
}

}  // namespace
}  // namespace parley
