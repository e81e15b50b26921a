#include "gateway/codec.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace parley {
namespace {

namespace json = boost::json;

// ---- parse_request ------------------------------------------------------------------------

struct Parsed {
  Result<codec::Request> result;
  std::string id;
};

Parsed parse(std::string_view text) {
  std::string id;
  auto r = codec::parse_request(text, id);
  return Parsed{std::move(r), id};
}

TEST(ParseRequestTest, AWellFormedCommand) {
  auto p = parse(R"({"type":"send","id":"r1","room":"lobby","text":"hi"})");
  ASSERT_TRUE(p.result.ok());
  EXPECT_EQ(p.result->op, "send");
  EXPECT_EQ(p.result->id, "r1");
  EXPECT_EQ(p.id, "r1");
  EXPECT_FALSE(p.result->ttl_ms.has_value());
  ASSERT_TRUE(p.result->body.contains("room"));
  EXPECT_EQ(p.result->body.at("room").as_string(), "lobby");
  EXPECT_EQ(p.result->body.at("text").as_string(), "hi");
}

TEST(ParseRequestTest, ATraceparentIsTakenOrMarkedForReplacementNeverRefused) {
  auto p = parse(
      R"({"type":"ping","id":"a","traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"})");
  ASSERT_TRUE(p.result);
  EXPECT_TRUE(p.result->has_traceparent);
  ASSERT_TRUE(p.result->traceparent);
  EXPECT_EQ(p.result->traceparent->trace_id_view(), "4bf92f3577b34da6a3ce929d0e0e4736");
  for (const char* bad : {R"("nope")", "42", "null", R"({"a":1})",
                          R"("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 ")"}) {
    auto q = parse(std::string(R"({"type":"ping","id":"a","traceparent":)") + bad + "}");
    ASSERT_TRUE(q.result) << bad;  // the command goes on; a new trace replaces it
    EXPECT_TRUE(q.result->has_traceparent) << bad;
    EXPECT_FALSE(q.result->traceparent) << bad;
  }
  auto none = parse(R"({"type":"ping","id":"a"})");
  ASSERT_TRUE(none.result);
  EXPECT_FALSE(none.result->has_traceparent);
}

TEST(ParseRequestTest, AnErrorFrameEchoesATraceparent) {
  auto frame =
      json::parse(codec::error_frame("a", make_error(Errc::not_found, "x"),
                                     "00-4bf92f3577b34da6a3ce929d0e0e4736-0123456789abcdef-01"))
          .as_object();
  EXPECT_EQ(frame.at("traceparent").as_string(),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0123456789abcdef-01");
  EXPECT_FALSE(json::parse(codec::error_frame("a", make_error(Errc::not_found, "x")))
                   .as_object()
                   .contains("traceparent"));
}

TEST(ParseRequestTest, MalformedJsonIsABadRequestWithoutId) {
  for (auto text : {R"({"type":"ping","id":"r1")", "not json", "", R"({"type":})"}) {
    auto p = parse(text);
    ASSERT_FALSE(p.result.ok()) << text;
    EXPECT_EQ(p.result.error().code, Errc::bad_request) << text;
    EXPECT_EQ(p.id, "") << text;
  }
}

TEST(ParseRequestTest, NonObjectsAreBadRequests) {
  for (auto text : {"[1,2]", R"("ping")", "42", "null", "true"}) {
    auto p = parse(text);
    ASSERT_FALSE(p.result.ok()) << text;
    EXPECT_EQ(p.result.error().code, Errc::bad_request) << text;
    EXPECT_EQ(p.id, "") << text;
  }
}

TEST(ParseRequestTest, MissingOrNonStringTypeReportsTheIdIfReadable) {
  auto missing = parse(R"({"id":"r7","room":"lobby"})");
  ASSERT_FALSE(missing.result.ok());
  EXPECT_EQ(missing.result.error().code, Errc::bad_request);
  EXPECT_EQ(missing.id, "r7");

  auto number = parse(R"({"type":5,"id":"r8"})");
  ASSERT_FALSE(number.result.ok());
  EXPECT_EQ(number.result.error().code, Errc::bad_request);
  EXPECT_EQ(number.id, "r8");
}

TEST(ParseRequestTest, MissingIdIsABadRequest) {
  auto p = parse(R"({"type":"ping"})");
  ASSERT_FALSE(p.result.ok());
  EXPECT_EQ(p.result.error().code, Errc::bad_request);
  EXPECT_EQ(p.id, "");
}

TEST(ParseRequestTest, InvalidIdsAreBadRequestsAndNotReported) {
  for (auto text : {R"({"type":"ping","id":5})", R"({"type":"ping","id":""})",
                    R"({"type":"ping","id":null})", R"({"type":"ping","id":["r1"]})"}) {
    auto p = parse(text);
    ASSERT_FALSE(p.result.ok()) << text;
    EXPECT_EQ(p.result.error().code, Errc::bad_request) << text;
    EXPECT_EQ(p.id, "") << text;
  }
  auto too_long = parse(R"({"type":"ping","id":")" + std::string(65, 'i') + R"("})");
  ASSERT_FALSE(too_long.result.ok());
  EXPECT_EQ(too_long.id, "");
}

TEST(ParseRequestTest, IdOfSixtyFourCharsIsFine) {
  std::string id(64, 'i');
  auto p = parse(R"({"type":"ping","id":")" + id + R"("})");
  ASSERT_TRUE(p.result.ok());
  EXPECT_EQ(p.result->id, id);
}

TEST(ParseRequestTest, TtlMsIsAPositiveInteger) {
  auto p = parse(R"({"type":"send","id":"r1","ttl_ms":250})");
  ASSERT_TRUE(p.result.ok());
  EXPECT_EQ(p.result->ttl_ms, 250);

  auto one = parse(R"({"type":"send","id":"r1","ttl_ms":1})");
  ASSERT_TRUE(one.result.ok());
  EXPECT_EQ(one.result->ttl_ms, 1);
}

// Above the cap (24 h) a ttl is refused: a deadline near INT64_MAX would overflow `now + ttl`.
TEST(ParseRequestTest, TtlMsAboveTheCapIsABadRequest) {
  auto cap = parse(R"({"type":"send","id":"r1","ttl_ms":86400000})");
  ASSERT_TRUE(cap.result.ok());
  EXPECT_EQ(cap.result->ttl_ms, codec::kMaxTtlMs);
  for (auto ttl : {"86400001", "9223372036854775807", "18446744073709551615"}) {
    auto p = parse(std::string(R"({"type":"send","id":"r1","ttl_ms":)") + ttl + "}");
    ASSERT_FALSE(p.result.ok()) << ttl;
    EXPECT_EQ(p.result.error().code, Errc::bad_request) << ttl;
    EXPECT_EQ(p.id, "r1") << ttl;
  }
}

TEST(ErrorFrameTest, AnUnknownOutcomeIsSpelledOut) {
  Error e = make_error(Errc::unavailable, "the log did not confirm it");
  EXPECT_EQ(codec::error_frame("a", e).find("outcome"), std::string::npos);
  e.outcome_unknown = true;
  auto v = json::parse(codec::error_frame("a", e)).as_object();
  EXPECT_EQ(v.at("error").at("outcome").as_string(), "unknown");
  EXPECT_EQ(v.at("error").at("code").as_string(), "unavailable");
}

TEST(ParseRequestTest, InvalidTtlMsIsABadRequestThatStillReportsTheId) {
  for (auto ttl : {"0", "-5", "1.5", "\"100\"", "null", "true", "1e3"}) {
    auto p = parse(std::string(R"({"type":"send","id":"r9","ttl_ms":)") + ttl + "}");
    ASSERT_FALSE(p.result.ok()) << ttl;
    EXPECT_EQ(p.result.error().code, Errc::bad_request) << ttl;
    EXPECT_EQ(p.id, "r9") << ttl;
  }
}

// ---- typed field access -------------------------------------------------------------------

json::object obj(std::string_view text) {
  return json::parse(text).as_object();
}

TEST(FieldTest, RequiredString) {
  auto o = obj(R"({"room":"lobby","n":1})");
  auto room = codec::required_string(o, "room");
  ASSERT_TRUE(room.ok());
  EXPECT_EQ(*room, "lobby");
  EXPECT_EQ(codec::required_string(o, "user").error().code, Errc::bad_request);
  EXPECT_EQ(codec::required_string(o, "n").error().code, Errc::bad_request);
}

TEST(FieldTest, OptionalString) {
  auto o = obj(R"({"a":"x","b":null,"c":3})");
  EXPECT_EQ(codec::optional_string(o, "a").value(), std::optional<std::string>("x"));
  EXPECT_EQ(codec::optional_string(o, "b").value(), std::nullopt);
  EXPECT_EQ(codec::optional_string(o, "missing").value(), std::nullopt);
  EXPECT_EQ(codec::optional_string(o, "c").error().code, Errc::bad_request);
}

TEST(FieldTest, OptionalInt) {
  auto o = obj(
      R"({"a":42,"neg":-3,"whole":7.0,"frac":7.5,"s":"7","big":18446744073709551615,"n":null,"huge":1e300})");
  EXPECT_EQ(codec::optional_int(o, "a").value(), std::optional<int64_t>(42));
  EXPECT_EQ(codec::optional_int(o, "neg").value(), std::optional<int64_t>(-3));
  EXPECT_EQ(codec::optional_int(o, "whole").value(), std::optional<int64_t>(7));
  EXPECT_EQ(codec::optional_int(o, "n").value(), std::nullopt);
  EXPECT_EQ(codec::optional_int(o, "missing").value(), std::nullopt);
  EXPECT_EQ(codec::optional_int(o, "frac").error().code, Errc::bad_request);
  EXPECT_EQ(codec::optional_int(o, "s").error().code, Errc::bad_request);
  EXPECT_EQ(codec::optional_int(o, "big").error().code, Errc::bad_request);
  EXPECT_EQ(codec::optional_int(o, "huge").error().code, Errc::bad_request);  // not an int64
}

TEST(FieldTest, OptionalBool) {
  auto o = obj(R"({"t":true,"f":false,"n":null,"s":"true","i":1})");
  EXPECT_TRUE(codec::optional_bool(o, "t", false).value());
  EXPECT_FALSE(codec::optional_bool(o, "f", true).value());
  EXPECT_TRUE(codec::optional_bool(o, "n", true).value());
  EXPECT_FALSE(codec::optional_bool(o, "missing", false).value());
  EXPECT_EQ(codec::optional_bool(o, "s", false).error().code, Errc::bad_request);
  EXPECT_EQ(codec::optional_bool(o, "i", false).error().code, Errc::bad_request);
}

// ---- server frames ------------------------------------------------------------------------

json::object frame(const std::string& text) {
  json::value v = json::parse(text);
  EXPECT_TRUE(v.is_object()) << text;
  return v.as_object();
}

Message sample_message() {
  return Message{"lobby", 42, "m-42", "alice", "hello \"world\"\n", 1'700'000'000'123, ""};
}

TEST(MessageFrameTest, CarriesEveryFieldOfTheProtocol) {
  auto o = frame(codec::message_frame(sample_message()));
  EXPECT_EQ(o.at("type").as_string(), "message");
  EXPECT_EQ(o.at("room").as_string(), "lobby");
  EXPECT_EQ(o.at("seq").as_int64(), 42);
  EXPECT_EQ(o.at("msg_id").as_string(), "m-42");
  EXPECT_EQ(o.at("from").as_string(), "alice");
  EXPECT_EQ(o.at("text").as_string(), "hello \"world\"\n");
  EXPECT_EQ(o.at("ts").as_int64(), 1'700'000'000'123);
  EXPECT_FALSE(o.contains("client_msg_id"));
  EXPECT_EQ(o.size(), 7u);
}

TEST(MessageFrameTest, ClientMsgIdOnlyWhenTheSenderGaveOne) {
  Message m = sample_message();
  m.client_msg_id = "c-1";
  auto o = frame(codec::message_frame(m));
  ASSERT_TRUE(o.contains("client_msg_id"));
  EXPECT_EQ(o.at("client_msg_id").as_string(), "c-1");
  EXPECT_EQ(o.size(), 8u);
}

TEST(ResultFrameTest, OkFrameEchoesTheIdAndMergesFields) {
  auto o = frame(codec::ok_frame("r1", json::object{{"room", "lobby"}, {"head", 3}}));
  EXPECT_EQ(o.at("type").as_string(), "result");
  EXPECT_EQ(o.at("id").as_string(), "r1");
  EXPECT_TRUE(o.at("ok").as_bool());
  EXPECT_EQ(o.at("room").as_string(), "lobby");
  EXPECT_EQ(o.at("head").as_int64(), 3);
}

TEST(ResultFrameTest, ErrorFrameWithId) {
  auto o = frame(codec::error_frame("r2", make_error(Errc::not_found, "no such room: x")));
  EXPECT_EQ(o.at("type").as_string(), "result");
  EXPECT_EQ(o.at("id").as_string(), "r2");
  EXPECT_FALSE(o.at("ok").as_bool());
  EXPECT_EQ(o.at("error").at("code").as_string(), "not_found");
  EXPECT_EQ(o.at("error").at("message").as_string(), "no such room: x");
}

TEST(ResultFrameTest, ErrorFrameWithoutIdOmitsIt) {
  auto o = frame(codec::error_frame("", make_error(Errc::bad_request, "malformed JSON")));
  EXPECT_FALSE(o.contains("id"));
  EXPECT_FALSE(o.at("ok").as_bool());
  EXPECT_EQ(o.at("error").at("code").as_string(), "bad_request");
}

TEST(ServerFrameTest, WelcomeFrame) {
  auto o = frame(codec::welcome_frame("sess-1234", "alice", "inst-1", "ep-9"));
  EXPECT_EQ(o.at("type").as_string(), "welcome");
  EXPECT_EQ(o.at("session").as_string(), "sess-1234");
  EXPECT_EQ(o.at("user").as_string(), "alice");
  EXPECT_EQ(o.at("instance").as_string(), "inst-1");
  EXPECT_EQ(o.at("epoch").as_string(), "ep-9");
}

TEST(ServerFrameTest, EventFrame) {
  auto o = frame(codec::event_frame("member.joined", "lobby", "bob"));
  EXPECT_EQ(o.at("type").as_string(), "event");
  EXPECT_EQ(o.at("event").as_string(), "member.joined");
  EXPECT_EQ(o.at("room").as_string(), "lobby");
  EXPECT_EQ(o.at("user").as_string(), "bob");
}

TEST(ServerFrameTest, HttpErrorBody) {
  auto o = frame(codec::http_error_body(make_error(Errc::conflict, "user exists")));
  EXPECT_EQ(o.size(), 1u);
  EXPECT_EQ(o.at("error").at("code").as_string(), "conflict");
  EXPECT_EQ(o.at("error").at("message").as_string(), "user exists");
}

}  // namespace
}  // namespace parley
