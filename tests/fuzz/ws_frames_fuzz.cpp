// libFuzzer target for the WebSocket frame parser: any byte sequence from a client must be
// either parsed or refused with a close code, never crash or read out of bounds.
// Build: clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -Isrc
//        tests/fuzz/ws_frames_fuzz.cpp src/adapters/ws/ws_frames.cpp -lsimdjson
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "adapters/ws/ws_frames.h"

namespace {
struct Sink : parley::ws::FrameHandler {
  void on_text(std::string_view) override {}
  void on_binary() override {}
  void on_ping(std::string_view) override {}
  void on_close(uint16_t) override {}
  void on_error(uint16_t, std::string_view) override {}
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  parley::ws::FrameParser parser(4096);
  Sink sink;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  // Feed in two pieces, as a socket would deliver them.
  size_t half = size / 2;
  size_t used = parser.parse(in.substr(0, half), sink);
  std::string rest(in.substr(used));
  parser.parse(rest, sink);
  return 0;
}
