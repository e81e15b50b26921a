#include "adapters/ws/ws_frames.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace parley::ws {
namespace {

// Builds a masked client frame, as a browser would send it.
std::string client_frame(Opcode op, std::string_view payload, bool fin = true, uint8_t rsv = 0,
                         bool masked = true) {
  std::string f;
  f.push_back(static_cast<char>((fin ? 0x80 : 0) | rsv | static_cast<uint8_t>(op)));
  uint8_t mask_bit = masked ? 0x80 : 0;
  if (payload.size() < 126) {
    f.push_back(static_cast<char>(mask_bit | payload.size()));
  } else if (payload.size() <= 0xffff) {
    f.push_back(static_cast<char>(mask_bit | 126));
    f.push_back(static_cast<char>(payload.size() >> 8));
    f.push_back(static_cast<char>(payload.size() & 0xff));
  } else {
    f.push_back(static_cast<char>(mask_bit | 127));
    for (int i = 7; i >= 0; --i) f.push_back(static_cast<char>((payload.size() >> (8 * i)) & 0xff));
  }
  const uint8_t key[4] = {0x12, 0x34, 0x56, 0x78};
  if (masked) f.append(reinterpret_cast<const char*>(key), 4);
  for (size_t i = 0; i < payload.size(); ++i) {
    f.push_back(static_cast<char>(payload[i] ^ (masked ? key[i & 3] : 0)));
  }
  return f;
}

struct Recorder : FrameHandler {
  std::vector<std::string> texts;
  int binaries = 0;
  std::vector<std::string> pings;
  std::vector<uint16_t> closes;
  std::vector<uint16_t> errors;
  void on_text(std::string_view m) override { texts.emplace_back(m); }
  void on_binary() override { ++binaries; }
  void on_ping(std::string_view p) override { pings.emplace_back(p); }
  void on_close(uint16_t code) override { closes.push_back(code); }
  void on_error(uint16_t code, std::string_view) override { errors.push_back(code); }
};

TEST(FrameParser, ParsesTextFramesOfEveryLengthEncoding) {
  for (size_t len : {0u, 5u, 125u, 126u, 65535u, 65536u}) {
    FrameParser p(1 << 20);
    Recorder r;
    std::string payload(len, 'a');
    std::string data = client_frame(Opcode::text, payload);
    EXPECT_EQ(p.parse(data, r), data.size());
    ASSERT_EQ(r.texts.size(), 1u) << len;
    EXPECT_EQ(r.texts[0], payload);
  }
}

TEST(FrameParser, LeavesAPartialFrameUnconsumed) {
  FrameParser p(1024);
  Recorder r;
  std::string data = client_frame(Opcode::text, "hello") + client_frame(Opcode::text, "world");
  size_t used = p.parse(std::string_view(data).substr(0, data.size() - 2), r);
  EXPECT_EQ(used, data.size() / 2);
  ASSERT_EQ(r.texts.size(), 1u);
  EXPECT_EQ(p.parse(std::string_view(data).substr(used), r), data.size() - used);
  ASSERT_EQ(r.texts.size(), 2u);
  EXPECT_EQ(r.texts[1], "world");
}

TEST(FrameParser, ReassemblesFragmentsWithControlFramesBetween) {
  FrameParser p(1024);
  Recorder r;
  std::string data = client_frame(Opcode::text, "hel", false) + client_frame(Opcode::ping, "p") +
                     client_frame(Opcode::continuation, "lo");
  p.parse(data, r);
  ASSERT_EQ(r.texts.size(), 1u);
  EXPECT_EQ(r.texts[0], "hello");
  EXPECT_EQ(r.pings, std::vector<std::string>{"p"});
}

TEST(FrameParser, RefusesOversizedMessagesWith1009) {
  FrameParser p(100);
  Recorder r;
  p.parse(client_frame(Opcode::text, std::string(101, 'x')), r);
  EXPECT_EQ(r.errors, std::vector<uint16_t>{1009});
  EXPECT_TRUE(r.texts.empty());
  EXPECT_TRUE(p.done());
}

TEST(FrameParser, RefusesOversizedFragmentedMessagesWith1009) {
  FrameParser p(100);
  Recorder r;
  p.parse(client_frame(Opcode::text, std::string(60, 'x'), false) +
              client_frame(Opcode::continuation, std::string(60, 'x')),
          r);
  EXPECT_EQ(r.errors, std::vector<uint16_t>{1009});
}

TEST(FrameParser, RefusesInvalidUtf8With1007) {
  FrameParser p(100);
  Recorder r;
  p.parse(client_frame(Opcode::text, "ok \xff\xfe"), r);
  EXPECT_EQ(r.errors, std::vector<uint16_t>{1007});
  EXPECT_TRUE(r.texts.empty());
}

TEST(FrameParser, ReportsBinaryMessages) {
  FrameParser p(100);
  Recorder r;
  p.parse(client_frame(Opcode::binary, "\x01\x02"), r);
  EXPECT_EQ(r.binaries, 1);
  EXPECT_TRUE(r.errors.empty());
}

TEST(FrameParser, ProtocolErrorsAre1002) {
  struct Case {
    const char* name;
    std::string data;
  };
  std::vector<Case> cases = {
      {"unmasked", client_frame(Opcode::text, "x", true, 0, false)},
      {"rsv bits", client_frame(Opcode::text, "x", true, 0x40)},
      {"bad opcode", client_frame(static_cast<Opcode>(3), "x")},
      {"fragmented ping", client_frame(Opcode::ping, "x", false)},
      {"long ping", client_frame(Opcode::ping, std::string(126, 'x'))},
      {"lone continuation", client_frame(Opcode::continuation, "x")},
      {"text inside fragments",
       client_frame(Opcode::text, "a", false) + client_frame(Opcode::text, "b")},
      {"one-byte close", client_frame(Opcode::close, "x")},
      {"bad close code", client_frame(Opcode::close, std::string("\x03\xe7", 2))},  // 999
  };
  for (const auto& c : cases) {
    FrameParser p(1024);
    Recorder r;
    p.parse(c.data, r);
    EXPECT_EQ(r.errors, std::vector<uint16_t>{1002}) << c.name;
  }
}

// A masked text frame whose length is written in @p length_bytes (2 or 8) extended length bytes,
// whatever its size: a non-minimal encoding when the payload would fit a shorter one.
std::string frame_with_length(std::string_view payload, int length_bytes) {
  std::string f;
  f.push_back(static_cast<char>(0x80 | static_cast<uint8_t>(Opcode::text)));
  f.push_back(static_cast<char>(0x80 | (length_bytes == 2 ? 126 : 127)));
  for (int i = length_bytes - 1; i >= 0; --i) {
    f.push_back(static_cast<char>((uint64_t{payload.size()} >> (8 * i)) & 0xff));
  }
  f.append(4, '\0');  // an all-zero mask key: the payload goes as is
  f.append(payload);
  return f;
}

TEST(FrameParser, NonMinimalLengthEncodingsAre1002) {
  // RFC 6455 5.2: "the minimal number of bytes MUST be used to encode the length".
  for (auto [len, length_bytes] : std::vector<std::pair<size_t, int>>{
           {0, 2}, {5, 2}, {125, 2}, {0, 8}, {125, 8}, {126, 8}, {65535, 8}}) {
    FrameParser p(1 << 20);
    Recorder r;
    std::string data = frame_with_length(std::string(len, 'a'), length_bytes) +
                       client_frame(Opcode::ping, "after");
    EXPECT_EQ(p.parse(data, r), data.size()) << len << " in " << length_bytes;
    EXPECT_EQ(r.errors, std::vector<uint16_t>{1002}) << len << " in " << length_bytes;
    EXPECT_TRUE(r.texts.empty() && r.pings.empty()) << len << " in " << length_bytes;
    EXPECT_TRUE(p.done());
  }
  // Refused from the length bytes alone, before the mask key and the payload arrive.
  FrameParser p(1 << 20);
  Recorder r;
  p.parse(frame_with_length("abc", 8).substr(0, 10), r);
  EXPECT_EQ(r.errors, std::vector<uint16_t>{1002});
}

TEST(FrameParser, MinimalLengthEncodingsAtTheBoundariesAreAccepted) {
  for (auto [len, length_bytes] :
       std::vector<std::pair<size_t, int>>{{126, 2}, {65535, 2}, {65536, 8}}) {
    FrameParser p(1 << 20);
    Recorder r;
    std::string data = frame_with_length(std::string(len, 'a'), length_bytes);
    EXPECT_EQ(p.parse(data, r), data.size()) << len;
    EXPECT_TRUE(r.errors.empty()) << len;
    ASSERT_EQ(r.texts.size(), 1u) << len;
    EXPECT_EQ(r.texts[0].size(), len);
  }
}

TEST(FrameParser, ReservedOpcodesAre1002) {
  // 0x3-0x7 are reserved data opcodes, 0xB-0xF reserved control opcodes (RFC 6455 5.2).
  for (int op : {3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF}) {
    for (std::string_view payload : {"", "payload"}) {
      FrameParser p(1024);
      Recorder r;
      p.parse(client_frame(static_cast<Opcode>(op), payload) + client_frame(Opcode::ping, "after"),
              r);
      EXPECT_EQ(r.errors, std::vector<uint16_t>{1002}) << op;
      EXPECT_TRUE(r.pings.empty()) << op;
      EXPECT_TRUE(p.done()) << op;
    }
  }
}

TEST(FrameParser, CloseCodesInvalidOnTheWireAre1002) {
  for (int code : {0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535}) {
    FrameParser p(1024);
    Recorder r;
    std::string payload{static_cast<char>(code >> 8), static_cast<char>(code & 0xff)};
    p.parse(client_frame(Opcode::close, payload), r);
    EXPECT_EQ(r.errors, std::vector<uint16_t>{1002}) << code;
    EXPECT_TRUE(r.closes.empty()) << code;
  }
  for (int code : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999}) {
    FrameParser p(1024);
    Recorder r;
    std::string payload{static_cast<char>(code >> 8), static_cast<char>(code & 0xff)};
    p.parse(client_frame(Opcode::close, payload), r);
    EXPECT_EQ(r.closes, std::vector<uint16_t>{static_cast<uint16_t>(code)}) << code;
    EXPECT_TRUE(r.errors.empty()) << code;
  }
}

TEST(FrameParser, CloseReasonMustBeUtf8) {
  {
    FrameParser p(1024);
    Recorder r;
    p.parse(client_frame(Opcode::close, std::string("\x03\xe8ok \xce\xba\xe1\xbd\xb9")), r);
    EXPECT_EQ(r.closes, std::vector<uint16_t>{1000});
    EXPECT_TRUE(r.errors.empty());
  }
  {
    FrameParser p(1024);
    Recorder r;
    p.parse(client_frame(Opcode::close, std::string("\x03\xe8") + "bad \xff\xfe"), r);
    EXPECT_EQ(r.errors, std::vector<uint16_t>{1007});
    EXPECT_TRUE(r.closes.empty());
  }
}

TEST(FrameParser, CloseEndsTheStream) {
  FrameParser p(1024);
  Recorder r;
  std::string data =
      client_frame(Opcode::close, std::string("\x03\xe8", 2)) + client_frame(Opcode::text, "after");
  p.parse(data, r);
  EXPECT_EQ(r.closes, std::vector<uint16_t>{1000});
  EXPECT_TRUE(r.texts.empty());
  EXPECT_TRUE(p.done());
}

TEST(FrameParser, CloseWithoutCodeIs1005) {
  FrameParser p(1024);
  Recorder r;
  p.parse(client_frame(Opcode::close, ""), r);
  EXPECT_EQ(r.closes, std::vector<uint16_t>{1005});
}

TEST(EncodeHeader, UsesTheShortestLengthEncoding) {
  uint8_t h[10];
  EXPECT_EQ(encode_header(Opcode::text, 125, h), 2u);
  EXPECT_EQ(h[0], 0x81);
  EXPECT_EQ(h[1], 125);
  EXPECT_EQ(encode_header(Opcode::text, 126, h), 4u);
  EXPECT_EQ(h[1], 126);
  EXPECT_EQ((h[2] << 8) | h[3], 126);
  EXPECT_EQ(encode_header(Opcode::close, 70000, h), 10u);
  EXPECT_EQ(h[0], 0x88);
  EXPECT_EQ(h[1], 127);
  EXPECT_EQ((h[7] << 16) | (h[8] << 8) | h[9], 70000);
}

TEST(ClosePayload, CarriesCodeAndTruncatedReason) {
  std::string p = close_payload(1008, std::string(200, 'r'));
  ASSERT_EQ(p.size(), 125u);
  EXPECT_EQ((static_cast<uint8_t>(p[0]) << 8) | static_cast<uint8_t>(p[1]), 1008);
}

}  // namespace
}  // namespace parley::ws
