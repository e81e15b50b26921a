// libFuzzer target for the WebSocket frame parser (src/adapters/ws/ws_frames.*): any byte
// sequence from a client is either parsed or refused with a close code, never a crash or a read
// out of bounds. Checked on every input:
// - what the handler sees is well formed: text is valid UTF-8 within the size limit, a ping
//   payload fits a control frame, a close code is one a client may send (or 1005), an error is
//   1002, 1007 or 1009, and nothing is reported after a close or an error;
// - the same bytes fed whole and in pieces (as a socket delivers them, split where a hash of the
//   input says) produce the same events: no state is lost between two calls of parse();
// - each text message, framed again as a masked client frame (in two fragments when it can be),
//   parses back to itself; framed with a length in more bytes than it needs (RFC 6455 5.2: the
//   minimal encoding is a MUST), it is refused with 1002.
// Build: cmake -DPARLEY_FUZZ=ON (see cmake/fuzz.cmake); run: scripts/run-fuzz ws_frames_fuzz.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/ws/ws_frames.h"

namespace {

using parley::ws::FrameParser;
using parley::ws::Opcode;

constexpr size_t kMaxMessage = 1000;  // small, so "too big" is reachable with small inputs

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "invariant broken: %s\n", what);
  std::abort();
}
void check(bool ok, const char* what) {
  if (!ok) fail(what);
}

bool valid_close_code(uint16_t c) {
  return c == 1005 || (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) ||
         (c >= 3000 && c <= 4999);
}

struct Event {
  char kind;  // t(ext) b(inary) p(ing) c(lose) e(rror)
  std::string data;
  uint16_t code = 0;
  bool operator==(const Event&) const = default;
};

struct Recorder : parley::ws::FrameHandler {
  std::vector<Event> events;
  bool ended = false;

  void add(Event e) {
    check(!ended, "an event after a close or an error");
    events.push_back(std::move(e));
  }
  void on_text(std::string_view m) override {
    check(m.size() <= kMaxMessage, "text message over the limit");
    check(parley::ws::valid_utf8(m), "text message that is not UTF-8");
    add({'t', std::string(m)});
  }
  void on_binary() override { add({'b', {}}); }
  void on_ping(std::string_view p) override {
    check(p.size() <= 125, "ping payload over 125 bytes");
    add({'p', std::string(p)});
  }
  void on_close(uint16_t code) override {
    check(valid_close_code(code), "close code a client may not send");
    add({'c', {}, code});
    ended = true;
  }
  void on_error(uint16_t code, std::string_view) override {
    check(code == 1002 || code == 1007 || code == 1009, "unexpected error close code");
    add({'e', {}, code});
    ended = true;
  }
};

// Feeds @p in to a fresh parser in pieces of the given sizes (the last piece gets the rest),
// keeping the unconsumed tail as a connection's read buffer does.
std::vector<Event> parse_in_pieces(std::string_view in, uint64_t seed) {
  FrameParser parser(kMaxMessage);
  Recorder rec;
  std::string buffer;
  size_t pos = 0;
  while (pos < in.size()) {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    size_t piece = 1 + (seed >> 33) % 97;
    piece = std::min(piece, in.size() - pos);
    buffer.append(in.substr(pos, piece));
    pos += piece;
    size_t used = parser.parse(buffer, rec);
    check(used <= buffer.size(), "parse consumed more than it was given");
    buffer.erase(0, used);
    check(parser.done() == rec.ended, "done() disagrees with the events");
    if (parser.done()) break;
  }
  return rec.events;
}

// @p text as a masked client text frame, in two fragments if @p split is inside it.
std::string client_frames(std::string_view text, size_t split, uint32_t key_bits) {
  uint8_t key[4] = {static_cast<uint8_t>(key_bits), static_cast<uint8_t>(key_bits >> 8),
                    static_cast<uint8_t>(key_bits >> 16), static_cast<uint8_t>(key_bits >> 24)};
  std::string out;
  auto frame = [&](Opcode op, bool fin, std::string_view payload) {
    uint8_t header[10];
    size_t n = parley::ws::encode_header(op, payload.size(), header);
    if (!fin) header[0] &= 0x7f;
    header[1] |= 0x80;  // masked, as every client frame is
    out.append(reinterpret_cast<const char*>(header), n);
    out.append(reinterpret_cast<const char*>(key), 4);
    for (size_t i = 0; i < payload.size(); ++i)
      out.push_back(static_cast<char>(payload[i] ^ static_cast<char>(key[i & 3])));
  };
  if (split > 0 && split < text.size()) {
    frame(Opcode::text, false, text.substr(0, split));
    frame(Opcode::continuation, true, text.substr(split));
  } else {
    frame(Opcode::text, true, text);
  }
  return out;
}

// @p text as one masked client text frame whose length takes more bytes than it needs: 8 (every
// message accepted here is under kMaxMessage < 65536 bytes), or 2 when it is under 126 bytes.
std::string non_minimal_frame(std::string_view text, bool wide) {
  std::string out;
  out.push_back(static_cast<char>(0x80 | static_cast<uint8_t>(Opcode::text)));
  int length_bytes = wide || text.size() >= 126 ? 8 : 2;
  out.push_back(static_cast<char>(0x80 | (length_bytes == 8 ? 127 : 126)));
  for (int i = length_bytes - 1; i >= 0; --i)
    out.push_back(static_cast<char>((uint64_t{text.size()} >> (8 * i)) & 0xff));
  out.append(4, '\0');  // an all-zero mask key: the payload goes as is
  out.append(text);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  uint64_t hash = 14695981039346656037ULL;  // FNV-1a: split points that vary with the input
  for (uint8_t b : in) hash = (hash ^ b) * 1099511628211ULL;

  FrameParser whole_parser(kMaxMessage);
  Recorder whole;
  size_t used = whole_parser.parse(in, whole);
  check(used <= in.size(), "parse consumed more than it was given");
  check(whole_parser.done() == whole.ended, "done() disagrees with the events");
  if (whole_parser.done()) {
    check(whole_parser.parse(in, whole) == 0, "parse consumed bytes after the stream ended");
  }

  check(parse_in_pieces(in, hash) == whole.events, "split input parsed differently");

  for (const Event& e : whole.events) {
    if (e.kind != 't') continue;
    FrameParser again(kMaxMessage);
    Recorder rec;
    std::string frames = client_frames(e.data, hash % (e.data.size() + 1), uint32_t(hash >> 32));
    check(again.parse(frames, rec) == frames.size(), "re-framed message not consumed");
    check(rec.events.size() == 1 && rec.events[0] == e, "re-framed message parsed differently");

    static_assert(kMaxMessage < 65536, "every accepted message must have a shorter encoding");
    FrameParser strict(kMaxMessage);
    Recorder refused;
    strict.parse(non_minimal_frame(e.data, hash & 1), refused);
    check(refused.events.size() == 1 && refused.events[0].kind == 'e' &&
              refused.events[0].code == 1002,
          "non-minimal length encoding accepted");
  }
  return 0;
}
