#include "gateway/session_registry.h"

#include <gtest/gtest.h>

#include "runtime/log_trace.h"

namespace parley {
namespace {

constexpr int64_t kT0 = 10'000'000;

std::shared_ptr<Client> client(const std::string& session, uint64_t id,
                               const std::string& user = "alice") {
  auto c = std::make_shared<Client>();
  c->id = id;
  c->user = user;
  c->session = session;
  return c;
}

// A frame of exactly @p n bytes, tagged so tests can tell frames apart.
Frame sized(const std::string& tag, size_t n) {
  std::string s = tag;
  s.resize(n, '.');
  return make_frame(std::move(s));
}

// What the registry charges for keeping a frame of @p n bytes.
constexpr size_t charge(size_t n) {
  return n + SessionRegistry::kResultOverhead;
}

std::vector<std::string> texts(const std::vector<Frame>& frames) {
  std::vector<std::string> out;
  for (const auto& f : frames) out.push_back(*f);
  return out;
}

TEST(SessionRegistryTest, FirstAttachHasNoPreviousAndNothingPending) {
  SessionRegistry reg;
  auto a = reg.attach(client("sess-0001", 1), kT0);
  EXPECT_EQ(a.previous, nullptr);
  EXPECT_TRUE(a.pending.empty());
}

TEST(SessionRegistryTest, AttachReturnsTheConnectionItTakesOver) {
  SessionRegistry reg;
  auto first = client("sess-0001", 1);
  auto second = client("sess-0001", 2);
  ASSERT_EQ(reg.attach(first, kT0).previous, nullptr);
  auto a = reg.attach(second, kT0 + 1);
  EXPECT_EQ(a.previous, first);
  EXPECT_EQ(reg.route("alice", "sess-0001", make_frame("r"), kT0 + 2), second);
}

TEST(SessionRegistryTest, OtherSessionsAreNotTakenOver) {
  SessionRegistry reg;
  auto a = client("sess-000A", 1);
  auto b = client("sess-000B", 2);
  reg.attach(a, kT0);
  EXPECT_EQ(reg.attach(b, kT0).previous, nullptr);
  EXPECT_EQ(reg.route("alice", "sess-000A", make_frame("x"), kT0), a);
  EXPECT_EQ(reg.route("alice", "sess-000B", make_frame("y"), kT0), b);
}

TEST(SessionRegistryTest, RouteToAnOnlineSessionReturnsItsConnectionAndStoresNothing) {
  SessionRegistry reg;
  auto c = client("sess-0001", 1);
  reg.attach(c, kT0);
  EXPECT_EQ(reg.route("alice", "sess-0001", make_frame("result-1"), kT0), c);
  auto again = reg.attach(client("sess-0001", 2), kT0 + 1);
  EXPECT_TRUE(again.pending.empty());
}

TEST(SessionRegistryTest, ResultsForAnOfflineSessionWaitAndAreDeliveredInOrderOnAttach) {
  SessionRegistry reg;
  auto c = client("sess-0001", 1);
  reg.attach(c, kT0);
  reg.detach(*c, kT0 + 1);
  EXPECT_EQ(reg.route("alice", "sess-0001", make_frame("result-1"), kT0 + 2), nullptr);
  EXPECT_EQ(reg.route("alice", "sess-0001", make_frame("result-2"), kT0 + 3), nullptr);

  auto back = reg.attach(client("sess-0001", 2), kT0 + 4);
  EXPECT_EQ(back.previous, nullptr);
  EXPECT_EQ(texts(back.pending), (std::vector<std::string>{"result-1", "result-2"}));
  // Delivered once: a later reconnect gets nothing more.
  EXPECT_TRUE(reg.attach(client("sess-0001", 3), kT0 + 5).pending.empty());
}

TEST(SessionRegistryTest, ASessionNeverSeenStillKeepsItsResults) {
  // The result of a command can arrive on this instance before the session reconnects here.
  SessionRegistry reg;
  EXPECT_EQ(reg.route("alice", "sess-new1", make_frame("early"), kT0), nullptr);
  EXPECT_EQ(texts(reg.attach(client("sess-new1", 1), kT0 + 10).pending),
            std::vector<std::string>{"early"});
}

TEST(SessionRegistryTest, AClosedConnectionCountsAsOffline) {
  SessionRegistry reg;
  auto c = client("sess-0001", 1);
  reg.attach(c, kT0);
  c->open = false;  // closing, not yet detached
  EXPECT_EQ(reg.route("alice", "sess-0001", make_frame("result-1"), kT0 + 1), nullptr);
  EXPECT_EQ(texts(reg.attach(client("sess-0001", 2), kT0 + 2).pending),
            std::vector<std::string>{"result-1"});
}

TEST(SessionRegistryTest, ADestroyedConnectionCountsAsOffline) {
  SessionRegistry reg;
  {
    auto c = client("sess-0001", 1);
    reg.attach(c, kT0);
  }  // the registry holds it weakly
  EXPECT_EQ(reg.route("alice", "sess-0001", make_frame("result-1"), kT0 + 1), nullptr);
  EXPECT_EQ(reg.attach(client("sess-0001", 2), kT0 + 2).pending.size(), 1u);
}

TEST(SessionRegistryTest, PendingIsBoundedKeepingTheNewest) {
  SessionRegistry reg(SessionLimits{.max_pending_per_session = 3});
  for (int i = 1; i <= 5; ++i) {
    EXPECT_EQ(reg.route("alice", "sess-0001", make_frame("r" + std::to_string(i)), kT0 + i),
              nullptr);
  }
  EXPECT_EQ(texts(reg.attach(client("sess-0001", 1), kT0 + 10).pending),
            (std::vector<std::string>{"r3", "r4", "r5"}));
}

TEST(SessionRegistryTest, PendingOlderThanKeepIsDropped) {
  SessionRegistry reg(SessionLimits{.keep_ms = 1000});
  reg.route("alice", "sess-0001", make_frame("old"), kT0);
  reg.route("alice", "sess-0001", make_frame("fresh"), kT0 + 600);
  auto a = reg.attach(client("sess-0001", 1), kT0 + 1500);
  EXPECT_EQ(texts(a.pending), std::vector<std::string>{"fresh"});
}

TEST(SessionRegistryTest, PendingExactlyKeepMsOldIsStillDelivered) {
  SessionRegistry reg(SessionLimits{.keep_ms = 1000});
  reg.route("alice", "sess-0001", make_frame("edge"), kT0);
  EXPECT_EQ(reg.attach(client("sess-0001", 1), kT0 + 1000).pending.size(), 1u);
}

TEST(SessionRegistryTest, DetachOfATakenOverConnectionKeepsTheNewOne) {
  SessionRegistry reg;
  auto old_conn = client("sess-0001", 1);
  auto new_conn = client("sess-0001", 2);
  reg.attach(old_conn, kT0);
  reg.attach(new_conn, kT0 + 1);
  reg.detach(*old_conn, kT0 + 2);  // the old connection's close arrives late
  EXPECT_EQ(reg.route("alice", "sess-0001", make_frame("r"), kT0 + 3), new_conn);
}

TEST(SessionRegistryTest, DetachOfTheCurrentConnectionMakesItOffline) {
  SessionRegistry reg;
  auto c = client("sess-0001", 1);
  reg.attach(c, kT0);
  reg.detach(*c, kT0 + 1);
  EXPECT_EQ(reg.route("alice", "sess-0001", make_frame("r"), kT0 + 2), nullptr);
}

// ---- a session belongs to its user --------------------------------------------------------

TEST(SessionRegistryTest, AnotherUserWithTheSameIdDoesNotTakeOver) {
  SessionRegistry reg;
  auto alice = client("shared-id-1", 1, "alice");
  auto bob = client("shared-id-1", 2, "bob");
  reg.attach(alice, kT0);
  EXPECT_EQ(reg.attach(bob, kT0 + 1).previous, nullptr);
  EXPECT_FALSE(alice->taken_over);
  EXPECT_EQ(reg.route("alice", "shared-id-1", make_frame("for alice"), kT0 + 2), alice);
  EXPECT_EQ(reg.route("bob", "shared-id-1", make_frame("for bob"), kT0 + 2), bob);
  // Bob leaving does not touch alice's session either.
  reg.detach(*bob, kT0 + 3);
  EXPECT_EQ(reg.route("alice", "shared-id-1", make_frame("for alice"), kT0 + 4), alice);
}

TEST(SessionRegistryTest, AnotherUserWithTheSameIdDoesNotGetThePendingResults) {
  SessionRegistry reg;
  auto alice = client("shared-id-1", 1, "alice");
  reg.attach(alice, kT0);
  reg.detach(*alice, kT0 + 1);
  EXPECT_EQ(reg.route("alice", "shared-id-1", make_frame("alice-secret-1"), kT0 + 2), nullptr);
  EXPECT_EQ(reg.route("alice", "shared-id-1", make_frame("alice-secret-2"), kT0 + 3), nullptr);

  auto bob = reg.attach(client("shared-id-1", 2, "bob"), kT0 + 4);
  EXPECT_EQ(bob.previous, nullptr);
  EXPECT_TRUE(bob.pending.empty());
  // Nor does bob's presence, or his leaving, cost alice anything.
  reg.detach(*client("shared-id-1", 2, "bob"), kT0 + 5);
  EXPECT_EQ(texts(reg.attach(client("shared-id-1", 3, "alice"), kT0 + 6).pending),
            (std::vector<std::string>{"alice-secret-1", "alice-secret-2"}));
}

TEST(SessionRegistryTest, ResultsForAnotherUsersSessionDoNotReachIt) {
  SessionRegistry reg;
  auto bob = client("shared-id-1", 1, "bob");
  reg.attach(bob, kT0);
  // alice's session of the same id is offline: her result waits for her, bob is not handed it.
  EXPECT_EQ(reg.route("alice", "shared-id-1", make_frame("alice-only"), kT0 + 1), nullptr);
  EXPECT_EQ(texts(reg.attach(client("shared-id-1", 2, "alice"), kT0 + 2).pending),
            std::vector<std::string>{"alice-only"});
}

TEST(SessionRegistryTest, TakeoverBySameUserMarksTheOldConnectionAndHandsOverPending) {
  SessionRegistry reg;
  auto first = client("sess-0001", 1);
  reg.attach(first, kT0);
  first->closing = true;  // its close frame is queued: it can send nothing more
  EXPECT_EQ(reg.route("alice", "sess-0001", make_frame("r1"), kT0 + 1), nullptr);
  auto second = client("sess-0001", 2);
  auto a = reg.attach(second, kT0 + 2);
  EXPECT_EQ(a.previous, first);
  EXPECT_TRUE(first->taken_over);
  EXPECT_EQ(texts(a.pending), std::vector<std::string>{"r1"});
  EXPECT_EQ(reg.pending_bytes(), 0u);
  EXPECT_EQ(reg.route("alice", "sess-0001", make_frame("r2"), kT0 + 3), second);
}

// ---- bounded in bytes ------------------------------------------------------------------------

TEST(SessionRegistryTest, PendingBytesCountFramesAndTheirOverhead) {
  SessionRegistry reg;
  reg.route("alice", "sess-0001", sized("a", 100), kT0);
  reg.route("bob", "sess-0002", sized("b", 1000), kT0);
  EXPECT_EQ(reg.pending_bytes(), charge(100) + charge(1000));
  reg.attach(client("sess-0001", 1), kT0 + 1);
  EXPECT_EQ(reg.pending_bytes(), charge(1000));
}

TEST(SessionRegistryTest, PerSessionByteCapDropsTheOldestFirst) {
  SessionRegistry reg(SessionLimits{.max_pending_bytes_per_session = 3 * charge(100)});
  for (int i = 1; i <= 5; ++i)
    reg.route("alice", "sess-0001", sized("r" + std::to_string(i), 100), kT0 + i);
  EXPECT_EQ(reg.pending_bytes(), 3 * charge(100));
  auto a = reg.attach(client("sess-0001", 1), kT0 + 10);
  ASSERT_EQ(a.pending.size(), 3u);
  EXPECT_EQ(a.pending[0]->substr(0, 2), "r3");
  EXPECT_EQ(a.pending[2]->substr(0, 2), "r5");
}

TEST(SessionRegistryTest, PerSessionCapMakesRoomForALargerResultByDroppingSeveral) {
  SessionRegistry reg(SessionLimits{.max_pending_bytes_per_session = 3 * charge(100)});
  for (int i = 1; i <= 3; ++i)
    reg.route("alice", "sess-0001", sized("r" + std::to_string(i), 100), kT0);
  reg.route("alice", "sess-0001", sized("big", 2 * charge(100) - 256), kT0 + 1);
  auto a = reg.attach(client("sess-0001", 1), kT0 + 2);
  ASSERT_EQ(a.pending.size(), 2u);
  EXPECT_EQ(a.pending[0]->substr(0, 2), "r3");
  EXPECT_EQ(a.pending[1]->substr(0, 3), "big");
}

TEST(SessionRegistryTest, AResultLargerThanThePerSessionCapIsNeverKept) {
  SessionRegistry reg(SessionLimits{.max_pending_bytes_per_session = 4096});
  reg.route("alice", "sess-0001", sized("small", 100), kT0);
  EXPECT_EQ(reg.route("alice", "sess-0001", sized("huge", 4096), kT0 + 1), nullptr);
  EXPECT_EQ(reg.route("alice", "sess-0002", sized("huge", 1 << 20), kT0 + 1), nullptr);
  // Dropped, and it did not push out what was already kept.
  EXPECT_EQ(reg.pending_bytes(), charge(100));
  EXPECT_EQ(reg.session_count(), 1u);
  EXPECT_EQ(reg.attach(client("sess-0001", 1), kT0 + 2).pending.size(), 1u);
  EXPECT_TRUE(reg.attach(client("sess-0002", 2), kT0 + 2).pending.empty());
}

TEST(SessionRegistryTest, TotalCapDropsTheGloballyOldestFirst) {
  SessionRegistry reg(SessionLimits{.max_pending_bytes_total = 4 * charge(100)});
  reg.route("alice", "sess-000A", sized("A1", 100), kT0 + 1);
  reg.route("alice", "sess-000B", sized("B1", 100), kT0 + 2);
  reg.route("alice", "sess-000A", sized("A2", 100), kT0 + 3);
  reg.route("bob", "sess-000C", sized("C1", 100), kT0 + 4);
  reg.route("alice", "sess-000B", sized("B2", 100), kT0 + 5);  // full: A1 goes
  reg.route("bob", "sess-000C", sized("C2", 100), kT0 + 6);    // then B1
  EXPECT_EQ(reg.pending_bytes(), 4 * charge(100));
  auto head = [](const std::vector<Frame>& frames) {
    std::vector<std::string> out;
    for (const auto& f : frames) out.push_back(f->substr(0, 2));
    return out;
  };
  EXPECT_EQ(head(reg.attach(client("sess-000A", 1), kT0 + 7).pending),
            std::vector<std::string>{"A2"});
  EXPECT_EQ(head(reg.attach(client("sess-000B", 2), kT0 + 7).pending),
            std::vector<std::string>{"B2"});
  EXPECT_EQ(head(reg.attach(client("sess-000C", 3, "bob"), kT0 + 7).pending),
            (std::vector<std::string>{"C1", "C2"}));
}

TEST(SessionRegistryTest, OneUserCannotPushEveryoneElsesResultsOut) {
  // Default caps: a user parking results in many sessions (1 MB each, 80 MB in all, over the
  // 64 MB total) loses its own oldest at its per-user cap; bob's older result stays.
  SessionRegistry reg;
  reg.route("bob", "sess-bob1", sized("B1", 100), kT0);
  const size_t big = (1 << 20) - SessionRegistry::kResultOverhead;
  for (int i = 0; i < 80; ++i) {
    reg.route("mallory", "sess-" + std::to_string(1000 + i), sized("M", big), kT0 + 1 + i);
  }
  EXPECT_EQ(texts(reg.attach(client("sess-bob1", 1, "bob"), kT0 + 100).pending),
            std::vector<std::string>{*sized("B1", 100)});
  EXPECT_LE(reg.pending_bytes(), size_t{8} << 20);  // the default per-user cap
  // Mallory keeps its newest results.
  EXPECT_EQ(reg.attach(client("sess-1079", 2, "mallory"), kT0 + 100).pending.size(), 1u);
  EXPECT_TRUE(reg.attach(client("sess-1000", 3, "mallory"), kT0 + 100).pending.empty());
}

TEST(SessionRegistryTest, TheUserCapTakesTheUsersOldestAcrossItsSessions) {
  SessionRegistry reg(SessionLimits{.max_pending_bytes_per_user = 3 * charge(100)});
  reg.route("alice", "sess-000A", sized("A1", 100), kT0 + 1);
  reg.route("alice", "sess-000B", sized("B1", 100), kT0 + 2);
  reg.route("bob", "sess-000C", sized("C1", 100), kT0 + 3);
  reg.route("alice", "sess-000A", sized("A2", 100), kT0 + 4);
  reg.route("alice", "sess-000B", sized("B2", 100), kT0 + 5);  // alice over: A1 goes
  reg.route("alice", "sess-000C", sized("X1", 100), kT0 + 6);  // then B1
  EXPECT_EQ(reg.pending_bytes(), 4 * charge(100));
  EXPECT_EQ(texts(reg.attach(client("sess-000A", 1), kT0 + 7).pending),
            std::vector<std::string>{*sized("A2", 100)});
  EXPECT_EQ(texts(reg.attach(client("sess-000B", 2), kT0 + 7).pending),
            std::vector<std::string>{*sized("B2", 100)});
  EXPECT_EQ(texts(reg.attach(client("sess-000C", 3, "bob"), kT0 + 7).pending),
            std::vector<std::string>{*sized("C1", 100)});
  EXPECT_EQ(reg.attach(client("sess-000C", 4), kT0 + 7).pending.size(), 1u);
  EXPECT_EQ(reg.pending_bytes(), 0u);
}

TEST(SessionRegistryTest, TotalCapForgetsSessionsLeftWithNothing) {
  SessionRegistry reg(SessionLimits{.max_pending_bytes_total = 2 * charge(100)});
  for (int i = 0; i < 10; ++i)
    reg.route("alice", "sess-" + std::to_string(1000 + i), sized("r", 100), kT0 + i);
  EXPECT_EQ(reg.session_count(), 2u);
  EXPECT_EQ(reg.pending_bytes(), 2 * charge(100));
  EXPECT_EQ(reg.attach(client("sess-1009", 1), kT0 + 20).pending.size(), 1u);
  EXPECT_TRUE(reg.attach(client("sess-1000", 2), kT0 + 20).pending.empty());
}

TEST(SessionRegistryTest, ManyTinyResultsAreBoundedToo) {
  // The overhead charged per result bounds the sessions an attacker can park with tiny ones.
  SessionRegistry reg(SessionLimits{.max_pending_bytes_total = 1 << 20});
  for (int i = 0; i < 100'000; ++i)
    reg.route("mallory", "sess-" + std::to_string(i), make_frame("x"), kT0);
  EXPECT_LE(reg.pending_bytes(), size_t{1} << 20);
  EXPECT_LE(reg.session_count(), (size_t{1} << 20) / SessionRegistry::kResultOverhead);
}

// ---- forgetting --------------------------------------------------------------------------

TEST(SessionRegistryTest, IdleSessionsWithNothingPendingAreForgotten) {
  SessionRegistry reg;
  for (int i = 0; i < 1000; ++i) {
    auto c = client("sess-" + std::to_string(i), static_cast<uint64_t>(i));
    reg.attach(c, kT0 + i);
    reg.detach(*c, kT0 + i);
  }
  EXPECT_EQ(reg.session_count(), 0u);
}

TEST(SessionRegistryTest, ExpiredResultsAreSweptWithoutTheirSessionReturning) {
  SessionRegistry reg(SessionLimits{.keep_ms = 1000});
  reg.route("alice", "sess-old1", sized("old", 100), kT0);
  reg.route("alice", "sess-new1", sized("new", 100), kT0 + 1001);  // any call sweeps
  EXPECT_EQ(reg.pending_bytes(), charge(100));
  EXPECT_EQ(reg.session_count(), 1u);
  EXPECT_TRUE(reg.attach(client("sess-old1", 1), kT0 + 1002).pending.empty());
}

TEST(SessionRegistryTest, TheSweepIsBoundedPerCallAndCatchesUp) {
  SessionRegistry reg(SessionLimits{.keep_ms = 1000});
  const int n = 3 * SessionRegistry::kSweepPerCall + 5;
  for (int i = 0; i < n; ++i)
    reg.route("alice", "sess-" + std::to_string(1000 + i), sized("r", 100), kT0);
  auto c = client("sess-other", 1);
  reg.attach(c, kT0 + 5000);
  EXPECT_EQ(reg.pending_bytes(), (n - SessionRegistry::kSweepPerCall) * charge(100));
  for (int i = 0; i < 3; ++i) reg.detach(*c, kT0 + 5000);
  EXPECT_EQ(reg.pending_bytes(), 0u);
  EXPECT_EQ(reg.session_count(), 0u);
}

TEST(SessionRegistryTest, AClosingConnectionCountsAsOffline) {
  SessionRegistry reg;
  auto c = client("sess-0001", 1);
  reg.attach(c, kT0);
  c->closing = true;  // its close frame is queued; a result sent to it now would be lost
  EXPECT_EQ(reg.route("alice", "sess-0001", make_frame("r1"), kT0 + 1), nullptr);
  reg.detach(*c, kT0 + 2);
  EXPECT_EQ(texts(reg.attach(client("sess-0001", 2), kT0 + 3).pending),
            std::vector<std::string>{"r1"});
}

// Cluster: which of two connections of a session is newer is the order of their claims on the
// bus, not their wall clocks.
TEST(SessionRegistryTest, AClaimReadBeforeOursIsBackIsOlderAndIgnored) {
  SessionRegistry reg;
  auto c = client("sess-0001", 7);
  reg.attach(c, kT0);
  auto r = reg.release("alice", "sess-0001", kT0 + 1);  // our claim is not read back yet
  EXPECT_EQ(r.previous, nullptr);
  EXPECT_FALSE(c->taken_over);
  EXPECT_EQ(reg.route("alice", "sess-0001", make_frame("r"), kT0 + 2), c);
}

TEST(SessionRegistryTest, AClaimReadAfterOursIsBackTakesTheConnectionOver) {
  SessionRegistry reg;
  auto c = client("sess-0001", 7);
  reg.attach(c, kT0);
  reg.confirm("alice", "sess-0001", 7);
  auto r = reg.release("alice", "sess-0001", kT0 + 1);
  EXPECT_EQ(r.previous, c);
  EXPECT_TRUE(c->taken_over);
}

TEST(SessionRegistryTest, AnEarlierConnectionsConfirmationDoesNotConfirmTheNewOne) {
  SessionRegistry reg;
  auto first = client("sess-0001", 7);
  auto second = client("sess-0001", 8);
  reg.attach(first, kT0);
  reg.attach(second, kT0 + 1);
  reg.confirm("alice", "sess-0001", 7);  // first's claim; second's comes later in the log
  EXPECT_EQ(reg.release("alice", "sess-0001", kT0 + 2).previous, nullptr);
  reg.confirm("alice", "sess-0001", 8);
  EXPECT_EQ(reg.release("alice", "sess-0001", kT0 + 3).previous, second);
}

TEST(SessionRegistryTest, ReleaseHandsOverWhatWasKeptAndKeepsNothing) {
  SessionRegistry reg;
  EXPECT_EQ(reg.route("alice", "sess-0001", make_frame("r1"), kT0), nullptr);
  EXPECT_EQ(reg.route("alice", "sess-0001", make_frame("r2"), kT0 + 1), nullptr);
  auto r = reg.release("alice", "sess-0001", kT0 + 2);
  EXPECT_EQ(texts(r.pending), (std::vector<std::string>{"r1", "r2"}));
  EXPECT_EQ(reg.pending_bytes(), 0u);
  EXPECT_EQ(reg.session_count(), 0u);
  EXPECT_TRUE(reg.attach(client("sess-0001", 9), kT0 + 3).pending.empty());
}

TEST(SessionRegistryTest, ARouteNotToKeepKeepsNothing) {
  SessionRegistry reg;
  EXPECT_EQ(reg.route("alice", "sess-0001", make_frame("r1"), kT0, false), nullptr);
  EXPECT_EQ(reg.pending_bytes(), 0u);
  EXPECT_EQ(reg.session_count(), 0u);
  EXPECT_EQ(reg.route("alice", "sess-0001", make_frame("r2"), kT0 + 1), nullptr);
  EXPECT_EQ(texts(reg.take_pending("alice", "sess-0001", kT0 + 2)),
            (std::vector<std::string>{"r2"}));
  EXPECT_EQ(reg.session_count(), 0u);
}

// A kept result goes on (to the instance the session moved to) in the trace of the command it
// answers: the log scope it was kept in, not the scope of whoever releases it.
TEST(SessionRegistryTest, KeptResultsComeBackWithTheTracesTheyWereKeptIn) {
  SessionRegistry reg;
  auto traced = [](char c) {
    TraceContext t;
    t.trace_id.fill(c);
    t.span_id.fill(c);
    return t;
  };
  TraceContext a = traced('a');
  {
    LogTraceScope scope(a);
    EXPECT_EQ(reg.route("alice", "sess-0001", make_frame("ra"), kT0), nullptr);
  }
  EXPECT_EQ(reg.route("alice", "sess-0001", make_frame("untraced"), kT0), nullptr);
  TraceContext b = traced('b');
  {
    LogTraceScope scope(b);
    EXPECT_EQ(reg.route("alice", "sess-0001", make_frame("rb"), kT0), nullptr);
    EXPECT_EQ(reg.route("alice", "sess-0002", make_frame("rb2"), kT0), nullptr);
  }
  TraceContext claim = traced('c');
  LogTraceScope scope(claim);
  auto r = reg.release("alice", "sess-0001", kT0 + 1);
  ASSERT_EQ(texts(r.pending), (std::vector<std::string>{"ra", "untraced", "rb"}));
  ASSERT_EQ(r.traces.size(), 3u);
  EXPECT_EQ(r.traces[0].trace_id_view(), a.trace_id_view());
  EXPECT_TRUE(r.traces[1].empty());
  EXPECT_EQ(r.traces[2].trace_id_view(), b.trace_id_view());
  std::vector<TraceContext> traces;
  EXPECT_EQ(texts(reg.take_pending("alice", "sess-0002", kT0 + 1, &traces)),
            std::vector<std::string>{"rb2"});
  ASSERT_EQ(traces.size(), 1u);
  EXPECT_EQ(traces[0].trace_id_view(), b.trace_id_view());
}

}  // namespace
}  // namespace parley
