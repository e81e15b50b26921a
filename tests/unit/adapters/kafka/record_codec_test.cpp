#include "adapters/kafka/record_codec.h"

#include <gtest/gtest.h>

#include <limits>

namespace parley {
namespace {

LogRecord full_record() {
  LogRecord r;
  r.kind = RecordKind::send;
  r.room = "général";
  r.user = "alice";
  r.text = "hi \"there\"\n\x01 ☃";
  r.client_msg_id = "c-1";
  r.msg_id = "m-42";
  r.target = "bob";
  r.is_private = true;
  r.deadline_ms = 1700000000123;
  r.origin = "node-a";
  r.request = std::numeric_limits<uint64_t>::max();
  return r;
}

void expect_same(const LogRecord& a, const LogRecord& b) {
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.room, b.room);
  EXPECT_EQ(a.user, b.user);
  EXPECT_EQ(a.text, b.text);
  EXPECT_EQ(a.client_msg_id, b.client_msg_id);
  EXPECT_EQ(a.msg_id, b.msg_id);
  EXPECT_EQ(a.target, b.target);
  EXPECT_EQ(a.is_private, b.is_private);
  EXPECT_EQ(a.deadline_ms, b.deadline_ms);
  EXPECT_EQ(a.origin, b.origin);
  EXPECT_EQ(a.request, b.request);
}

TEST(RecordCodec, RoundTripsEveryFieldAndKind) {
  for (RecordKind k :
       {RecordKind::send, RecordKind::create_room, RecordKind::invite, RecordKind::open_dm}) {
    LogRecord r = full_record();
    r.kind = k;
    auto back = decode_record(encode_record(r));
    ASSERT_TRUE(back.ok()) << back.error().message;
    expect_same(r, *back);
  }
}

TEST(RecordCodec, LeavesDefaultsOutAndReadsThemBack) {
  LogRecord r;
  r.kind = RecordKind::create_room;
  r.room = "r";
  std::string bytes = encode_record(r);
  EXPECT_EQ(bytes, R"({"k":"c","r":"r"})");
  auto back = decode_record(bytes);
  ASSERT_TRUE(back.ok());
  expect_same(r, *back);
}

TEST(RecordCodec, RefusesGarbageWithoutThrowing) {
  const std::string cases[] = {"",
                               "{",
                               "null",
                               "[]",
                               "42",
                               R"({})",
                               R"({"k":"x","r":"a"})",
                               R"({"k":1,"r":"a"})",
                               R"({"k":"s","r":5})",
                               R"({"k":"s","r":"a","p":"yes"})",
                               R"({"k":"s","r":"a","d":"soon"})",
                               R"({"k":"s","r":"a","d":1.5})",
                               R"({"k":"s","r":"a","q":-1})",
                               R"({"k":"s","r":"a","d":18446744073709551615})",
                               std::string("\xff\xfe\x00\x01", 4),
                               std::string(10000, '[')};
  for (const auto& c : cases) {
    auto r = decode_record(c);
    EXPECT_FALSE(r.ok()) << c.substr(0, 60);
    if (!r.ok()) {
      EXPECT_EQ(r.error().code, Errc::bad_request);
    }
  }
}

}  // namespace
}  // namespace parley
