#pragma once
// An encoded server frame, shared: a fan-out serialises a message once and hands the same
// bytes to every recipient.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace parley {

using Frame = std::shared_ptr<const std::string>;

inline Frame make_frame(std::string s) {
  return std::make_shared<const std::string>(std::move(s));
}

// WebSocket close codes the gateway uses.
enum CloseCode : uint16_t {
  kCloseGoingAway = 1001,
  kCloseUnsupported = 1003,
  kCloseInvalidPayload = 1007,
  kClosePolicy = 1008,  // slow consumer
  kCloseTooBig = 1009,
  kCloseSessionTakenOver = 4001,
};

// The transport side of one connection. Called only on the connection's worker thread.
class FrameSink {
 public:
  virtual ~FrameSink() = default;
  /// Queues @p frame; a connection over its send-queue limit is closed with 1008.
  virtual void send(Frame frame) = 0;
  /// Queues the result of a command. A result the connection drops unsent (it closed, or was
  /// closed as a slow consumer) goes back to the gateway for the session; every other frame
  /// is the client's to recover (messages by resuming with `since`).
  virtual void send_result(Frame frame) { send(std::move(frame)); }
  /// Bytes queued and not yet written (replays wait for it to drain).
  virtual size_t queued_bytes() const = 0;
  /// Sends a close frame with @p code after what is being written, then drops the connection.
  virtual void close(uint16_t code, std::string reason) = 0;
};

}  // namespace parley
