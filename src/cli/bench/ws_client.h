#pragma once
// One WebSocket connection of the generator: connect + upgrade (with the reason when refused),
// a read loop that hands each text frame to a callback, and a write queue with one write in
// flight. Owned by shared_ptr: every pending operation holds a reference.
#include <boost/beast/websocket.hpp>
#include <deque>
#include <memory>
#include <string>
#include <string_view>

#include "cli/bench/connect_outcome.h"
#include "cli/bench/net.h"
#include "cli/bench/target.h"

namespace parley::bench {

class WsClient : public std::enable_shared_from_this<WsClient> {
 public:
  using TextHandler = std::function<void(std::string_view)>;
  /// Called once when the connection ends, with the close code the server sent (0 if none).
  using CloseHandler = std::function<void(int close_code, const std::string& why)>;

  explicit WsClient(net::any_io_executor ex);

  awaitable<ConnectOutcome> connect(const Target& target, const std::string& path,
                                    std::chrono::milliseconds timeout);
  /// Starts reading; frames go to @p on_text until the connection ends.
  void start_reading(TextHandler on_text, CloseHandler on_close);
  /// Queues @p frame; never blocks. Dropped when the connection is closed.
  void send(std::string frame);
  /// Closes the socket at once (no closing handshake: the server sees the connection drop).
  void abort();
  /// Closes the socket with a reset (SO_LINGER 0): no TIME_WAIT left on the generator's side,
  /// so a storm that drops and reopens thousands of connections does not run out of ports.
  void reset();
  bool is_open() const { return open_; }
  /// True until the read loop has ended and called the close handler: until then the handlers
  /// may still run, so what they reference must live.
  bool is_reading() const { return reading_; }
  size_t queued_bytes() const { return queued_bytes_; }

 private:
  awaitable<void> read_loop(std::shared_ptr<WsClient> self);
  awaitable<void> write_loop(std::shared_ptr<WsClient> self);

  beast::websocket::stream<beast::tcp_stream> ws_;
  TextHandler on_text_;
  CloseHandler on_close_;
  std::deque<std::string> queue_;
  size_t queued_bytes_ = 0;
  bool writing_ = false;
  bool open_ = false;
  bool reading_ = false;
};

}  // namespace parley::bench
