#pragma once
// The server frames the generator reads (PROTOCOL.md "Server -> client"), parsed in one pass
// with simdjson's on-demand API. Views point into the parser: use them before the next parse.
#include <simdjson.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace parley::bench {

struct Frame {
  std::string_view type;  // "welcome", "result", "message", "event"
  std::string_view id;
  bool ok = false;
  std::string_view error_code;
  std::string_view room;
  std::string_view text;
  int64_t seq = 0;
  int64_t head = 0;
  size_t messages = 0;  // history: how many messages the page holds
};

class FrameParser {
 public:
  /// False when @p raw is not a JSON object.
  bool parse(std::string_view raw, Frame& out);

 private:
  simdjson::ondemand::parser parser_;
  std::string padded_;
};

}  // namespace parley::bench
