#pragma once
// RFC 6455 framing for the server side, after the HTTP upgrade (which Beast performs).
//
// Why by hand: Beast writes one WebSocket message per write operation. A fan-out delivers many
// small messages to each socket; coalescing every queued message into one gather write (as
// uWebSockets does with corking) is what makes fan-out fast, and Beast cannot do that. The parser
// is pure (no I/O) so it is unit-tested and fuzzed on its own.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace parley::ws {

enum class Opcode : uint8_t {
  continuation = 0,
  text = 1,
  binary = 2,
  close = 8,
  ping = 9,
  pong = 10
};

/// The header of an unmasked server frame (FIN set) with a payload of @p len bytes, written to
/// @p out (at least 10 bytes); @return its length. The payload follows it on the wire unchanged,
/// so one encoded message can be shared by every recipient.
size_t encode_header(Opcode op, uint64_t len, uint8_t* out);
/// The payload of a close frame: @p code and @p reason (truncated to fit a control frame).
std::string close_payload(uint16_t code, std::string_view reason);

// What the parser found in the client's bytes.
class FrameHandler {
 public:
  virtual ~FrameHandler() = default;
  virtual void on_text(std::string_view message) = 0;
  virtual void on_binary() = 0;
  virtual void on_ping(std::string_view payload) = 0;
  virtual void on_close(uint16_t code) = 0;  // 1005 when the close frame carried no code
  /// The stream is broken: close with @p code (1002 protocol, 1007 bad UTF-8, 1009 too big).
  virtual void on_error(uint16_t code, std::string_view why) = 0;
};

class FrameParser {
 public:
  explicit FrameParser(size_t max_message_bytes) : max_message_(max_message_bytes) {}

  /// Parses the complete frames at the front of @p data, reporting each message, control frame
  /// or error to @p handler. @return how many bytes were consumed (a partial frame is left).
  /// After an error or a close frame it consumes nothing more.
  size_t parse(std::string_view data, FrameHandler& handler);

  /// True once an error or a close frame ended the stream.
  bool done() const { return done_; }

 private:
  size_t max_message_;
  std::string message_;  // fragments of a message in progress
  bool in_message_ = false;
  bool message_is_text_ = false;
  bool done_ = false;
};

/// True if @p s is valid UTF-8.
bool valid_utf8(std::string_view s);

}  // namespace parley::ws
