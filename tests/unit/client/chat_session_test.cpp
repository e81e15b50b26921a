#include "client/chat_session.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace parley::client {
namespace {
namespace json = boost::json;

json::object frame(const std::string& s) {
  return json::parse(s).as_object();
}

std::string welcome(const std::string& epoch = "e1") {
  return R"({"type":"welcome","session":"s","user":"alice","instance":"i","epoch":")" + epoch +
         R"("})";
}

std::string message(const std::string& room, int seq, const std::string& text) {
  return json::serialize(json::object{{"type", "message"},
                                      {"room", room},
                                      {"seq", seq},
                                      {"msg_id", "m"},
                                      {"from", "bob"},
                                      {"text", text},
                                      {"ts", 1}});
}

std::string ok(const json::object& req, json::object fields = {}) {
  fields["type"] = "result";
  fields["id"] = req.at("id");
  fields["ok"] = true;
  if (req.contains("room") && !fields.contains("room")) fields["room"] = req.at("room");
  return json::serialize(fields);
}

ChatCommand cmd(const std::string& line) {
  return parse_line(line).command;
}

int shown_messages(const Output& out) {
  int n = 0;
  for (const auto& s : out.shown) n += s.kind == Shown::Kind::message ? 1 : 0;
  return n;
}

TEST(ChatSession, RejoinsStoredRoomsWithSinceAfterWelcome) {
  ChatSession s("alice", "sess1234", SeqFile{"e1", {{"lobby", 5}, {"dm:alice:bob", 2}}});
  Output out;
  s.on_welcome(welcome(), out);
  ASSERT_EQ(out.frames.size(), 2u);
  for (const auto& f : out.frames) {
    const auto o = frame(f);
    EXPECT_EQ(o.at("type"), "join");
    EXPECT_EQ(o.at("since").as_int64(), o.at("room") == "lobby" ? 5 : 2);
  }
}

TEST(ChatSession, DropsDuplicatesBySeqAndKeepsTheLastSeq) {
  ChatSession s("alice", "sess1234", SeqFile{"e1", {{"lobby", 5}}});
  Output out;
  s.on_welcome(welcome(), out);
  out = {};
  for (int seq : {4, 5, 6, 6, 7, 5, 8}) s.on_frame(message("lobby", seq, "t"), out);
  EXPECT_EQ(shown_messages(out), 3);  // 6, 7, 8
  EXPECT_EQ(s.seqs().rooms.at("lobby"), 8);
  EXPECT_TRUE(s.take_dirty());
  EXPECT_FALSE(s.take_dirty());
}

TEST(ChatSession, FirstJoinFollowsTheHead) {
  ChatSession s("alice", "sess1234", SeqFile{});
  Output out;
  s.on_welcome(welcome(), out);
  out = {};
  s.on_command(cmd("/join lobby"), out);
  ASSERT_EQ(out.frames.size(), 1u);
  const auto join = frame(out.frames[0]);
  EXPECT_FALSE(join.contains("since"));  // nothing replayed the first time
  s.on_frame(ok(join, {{"head", 41}}), out);
  EXPECT_EQ(s.current_room(), "lobby");
  EXPECT_EQ(s.seqs().rooms.at("lobby"), 41);
}

TEST(ChatSession, ResendsUnansweredSendsWithTheSameClientMsgId) {
  ChatSession s("alice", "sess1234", SeqFile{"e1", {{"lobby", 0}}});
  Output out;
  s.on_welcome(welcome(), out);
  s.on_frame(ok(frame(out.frames[0]), {{"head", 0}}), out);
  out = {};
  s.on_command(cmd("one"), out);
  s.on_command(cmd("two"), out);
  ASSERT_EQ(out.frames.size(), 2u);
  const auto one = frame(out.frames[0]);
  const auto two = frame(out.frames[1]);
  s.on_frame(ok(one, {{"seq", 1}}), out);  // "one" is answered, "two" is not
  s.on_disconnect();
  out = {};
  s.on_command(cmd("three"), out);  // typed while offline: queued
  EXPECT_TRUE(out.frames.empty());
  s.on_welcome(welcome(), out);
  // The rejoin, then "two" and "three", in the order typed; "two" keeps its client_msg_id.
  ASSERT_EQ(out.frames.size(), 3u);
  const auto again = frame(out.frames[1]);
  EXPECT_EQ(again.at("type"), "send");
  EXPECT_EQ(again.at("client_msg_id"), two.at("client_msg_id"));
  EXPECT_NE(again.at("id"), two.at("id"));
  EXPECT_EQ(frame(out.frames[2]).at("text"), "three");
  // Both answers of "two" (the kept one and the repeat's) settle it once.
  s.on_frame(ok(two, {{"seq", 2}}), out);
  s.on_frame(ok(again, {{"seq", 2}}), out);
  EXPECT_EQ(s.unsent_sends(), 1u);
}

TEST(ChatSession, ANewEpochForgetsTheSeqs) {
  ChatSession s("alice", "sess1234", SeqFile{"e1", {{"lobby", 9}}});
  Output out;
  s.on_welcome(welcome("e2"), out);
  ASSERT_EQ(out.frames.size(), 1u);
  EXPECT_FALSE(frame(out.frames[0]).contains("since"));
  EXPECT_EQ(s.seqs().epoch, "e2");
}

TEST(ChatSession, OfflineCommandsOtherThanSendsAreRefused) {
  ChatSession s("alice", "sess1234", SeqFile{});
  Output out;
  s.on_command(cmd("/join lobby"), out);
  EXPECT_TRUE(out.frames.empty());
  ASSERT_EQ(out.shown.size(), 1u);
  EXPECT_EQ(out.shown[0].kind, Shown::Kind::error);
}

TEST(ChatSession, LeaveForgetsTheRoomAndItsLateMessages) {
  ChatSession s("alice", "sess1234", SeqFile{"e1", {{"a", 1}, {"b", 1}}});
  Output out;
  s.on_welcome(welcome(), out);
  for (const auto& f : out.frames) s.on_frame(ok(frame(f), {{"head", 1}}), out);
  s.on_command(cmd("/join b"), out);
  s.on_frame(ok(frame(out.frames.back()), {{"head", 1}}), out);
  ASSERT_EQ(s.current_room(), "b");
  out = {};
  s.on_command(cmd("/leave"), out);
  EXPECT_EQ(frame(out.frames[0]).at("type"), "leave");
  EXPECT_FALSE(s.seqs().rooms.contains("b"));
  EXPECT_EQ(s.current_room(), "a");
  s.on_frame(message("b", 2, "late"), out);
  EXPECT_EQ(shown_messages(out), 0);
}

TEST(ChatSession, UnsentSendsAreBounded) {
  ChatSession s("alice", "sess1234", SeqFile{"e1", {{"lobby", 0}}});
  Output out;
  s.on_welcome(welcome(), out);
  s.on_frame(ok(frame(out.frames[0]), {{"head", 0}}), out);
  s.on_disconnect();
  for (size_t i = 0; i < ChatSession::kMaxUnsentSends + 5; ++i) s.on_command(cmd("x"), out);
  EXPECT_EQ(s.unsent_sends(), ChatSession::kMaxUnsentSends);
}

}  // namespace
}  // namespace parley::client
