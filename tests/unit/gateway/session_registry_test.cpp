#include "gateway/session_registry.h"

#include <gtest/gtest.h>

namespace parley {
namespace {

constexpr int64_t kT0 = 10'000'000;

std::shared_ptr<Client> client(const std::string& session, uint64_t id) {
  auto c = std::make_shared<Client>();
  c->id = id;
  c->user = "alice";
  c->session = session;
  return c;
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
  EXPECT_EQ(reg.route("sess-0001", make_frame("r"), kT0 + 2), second);
}

TEST(SessionRegistryTest, OtherSessionsAreNotTakenOver) {
  SessionRegistry reg;
  auto a = client("sess-000A", 1);
  auto b = client("sess-000B", 2);
  reg.attach(a, kT0);
  EXPECT_EQ(reg.attach(b, kT0).previous, nullptr);
  EXPECT_EQ(reg.route("sess-000A", make_frame("x"), kT0), a);
  EXPECT_EQ(reg.route("sess-000B", make_frame("y"), kT0), b);
}

TEST(SessionRegistryTest, RouteToAnOnlineSessionReturnsItsConnectionAndStoresNothing) {
  SessionRegistry reg;
  auto c = client("sess-0001", 1);
  reg.attach(c, kT0);
  EXPECT_EQ(reg.route("sess-0001", make_frame("result-1"), kT0), c);
  auto again = reg.attach(client("sess-0001", 2), kT0 + 1);
  EXPECT_TRUE(again.pending.empty());
}

TEST(SessionRegistryTest, ResultsForAnOfflineSessionWaitAndAreDeliveredInOrderOnAttach) {
  SessionRegistry reg;
  auto c = client("sess-0001", 1);
  reg.attach(c, kT0);
  reg.detach(*c, kT0 + 1);
  EXPECT_EQ(reg.route("sess-0001", make_frame("result-1"), kT0 + 2), nullptr);
  EXPECT_EQ(reg.route("sess-0001", make_frame("result-2"), kT0 + 3), nullptr);

  auto back = reg.attach(client("sess-0001", 2), kT0 + 4);
  EXPECT_EQ(back.previous, nullptr);
  EXPECT_EQ(texts(back.pending), (std::vector<std::string>{"result-1", "result-2"}));
  // Delivered once: a later reconnect gets nothing more.
  EXPECT_TRUE(reg.attach(client("sess-0001", 3), kT0 + 5).pending.empty());
}

TEST(SessionRegistryTest, ASessionNeverSeenStillKeepsItsResults) {
  // The result of a command can arrive on this instance before the session reconnects here.
  SessionRegistry reg;
  EXPECT_EQ(reg.route("sess-new1", make_frame("early"), kT0), nullptr);
  EXPECT_EQ(texts(reg.attach(client("sess-new1", 1), kT0 + 10).pending),
            std::vector<std::string>{"early"});
}

TEST(SessionRegistryTest, AClosedConnectionCountsAsOffline) {
  SessionRegistry reg;
  auto c = client("sess-0001", 1);
  reg.attach(c, kT0);
  c->open = false;  // closing, not yet detached
  EXPECT_EQ(reg.route("sess-0001", make_frame("result-1"), kT0 + 1), nullptr);
  EXPECT_EQ(texts(reg.attach(client("sess-0001", 2), kT0 + 2).pending),
            std::vector<std::string>{"result-1"});
}

TEST(SessionRegistryTest, ADestroyedConnectionCountsAsOffline) {
  SessionRegistry reg;
  {
    auto c = client("sess-0001", 1);
    reg.attach(c, kT0);
  }  // the registry holds it weakly
  EXPECT_EQ(reg.route("sess-0001", make_frame("result-1"), kT0 + 1), nullptr);
  EXPECT_EQ(reg.attach(client("sess-0001", 2), kT0 + 2).pending.size(), 1u);
}

TEST(SessionRegistryTest, PendingIsBoundedKeepingTheNewest) {
  SessionRegistry reg(3, 60'000);
  for (int i = 1; i <= 5; ++i) {
    EXPECT_EQ(reg.route("sess-0001", make_frame("r" + std::to_string(i)), kT0 + i), nullptr);
  }
  EXPECT_EQ(texts(reg.attach(client("sess-0001", 1), kT0 + 10).pending),
            (std::vector<std::string>{"r3", "r4", "r5"}));
}

TEST(SessionRegistryTest, PendingOlderThanKeepIsDropped) {
  SessionRegistry reg(256, 1000);
  reg.route("sess-0001", make_frame("old"), kT0);
  reg.route("sess-0001", make_frame("fresh"), kT0 + 600);
  auto a = reg.attach(client("sess-0001", 1), kT0 + 1500);
  EXPECT_EQ(texts(a.pending), std::vector<std::string>{"fresh"});
}

TEST(SessionRegistryTest, PendingExactlyKeepMsOldIsStillDelivered) {
  SessionRegistry reg(256, 1000);
  reg.route("sess-0001", make_frame("edge"), kT0);
  EXPECT_EQ(reg.attach(client("sess-0001", 1), kT0 + 1000).pending.size(), 1u);
}

TEST(SessionRegistryTest, DetachOfATakenOverConnectionKeepsTheNewOne) {
  SessionRegistry reg;
  auto old_conn = client("sess-0001", 1);
  auto new_conn = client("sess-0001", 2);
  reg.attach(old_conn, kT0);
  reg.attach(new_conn, kT0 + 1);
  reg.detach(*old_conn, kT0 + 2);  // the old connection's close arrives late
  EXPECT_EQ(reg.route("sess-0001", make_frame("r"), kT0 + 3), new_conn);
}

TEST(SessionRegistryTest, DetachOfTheCurrentConnectionMakesItOffline) {
  SessionRegistry reg;
  auto c = client("sess-0001", 1);
  reg.attach(c, kT0);
  reg.detach(*c, kT0 + 1);
  EXPECT_EQ(reg.route("sess-0001", make_frame("r"), kT0 + 2), nullptr);
}

}  // namespace
}  // namespace parley
