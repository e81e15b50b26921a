#pragma once
// The WebSocket to the server, kept open: it connects, hands every frame to its owner, and when
// the connection is lost it waits (Backoff: full jitter, or the server's Retry-After on a 503
// or 429 upgrade answer) and connects again with the same session id. Everything runs on the
// io_context's one thread: no locks. What to resend after a reconnect is ChatSession's job.
// Over https the same happens on wss: TLS under the WebSocket, the same back-off and resume; only
// a certificate that fails verification stops the attempts (a retry would fail the same way).
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "client/backoff.h"
#include "client/server_address.h"
#include "client/tls.h"

namespace parley::client {

struct ConnectionHandlers {
  /// The connection is open; @p welcome is the server's first frame.
  std::function<void(std::string_view welcome)> on_open;
  /// Every later frame.
  std::function<void(std::string_view frame)> on_frame;
  /// The connection was lost or could not be made; the next attempt is in @p retry_in.
  std::function<void(const std::string& why, std::chrono::milliseconds retry_in)> on_down;
  /// No more attempts (the session was taken over, or no token can be had).
  std::function<void(const std::string& why)> on_give_up;
  /// No more attempts: the server's TLS certificate failed verification (a configuration
  /// error). on_give_up runs instead when this is not set.
  std::function<void(const std::string& why)> on_untrusted;
  /// The upgrade was refused with 401 (the token expired): a new token, or empty to give up.
  std::function<std::string()> refresh_token;
};

class Connection {
 public:
  /// Frames waiting to be written, at most; past it a frame is dropped (the session re-sends
  /// what must not be lost after the reconnect this backlog leads to).
  static constexpr size_t kMaxQueuedFrames = 4096;
  /// The largest frame accepted from the server (its default frame limit is 64 KiB; a history
  /// page of 200 messages of 4 KiB of text fits).
  static constexpr size_t kMaxFrameBytes = 4 * 1024 * 1024;

  /// @p tls: the context for an https:// @p server (must be set then), else unused.
  Connection(boost::asio::io_context& io, ServerAddress server, std::shared_ptr<TlsContext> tls,
             std::string token, std::string session, ConnectionHandlers handlers,
             BackoffPolicy policy = {});
  ~Connection();

  /// Starts connecting; returns at once.
  void start();
  /// Queues a text frame; dropped when not connected.
  void write(std::string frame);
  bool connected() const { return ws_ != nullptr; }
  /// Closes (a normal close) and makes no more attempts; @p done runs once closed.
  void stop(std::function<void()> done);

 private:
  struct Ws;
  boost::asio::awaitable<void> run();
  boost::asio::awaitable<std::string> attempt(std::optional<std::chrono::seconds>& retry_after);
  void write_next();

  boost::asio::io_context& io_;
  ServerAddress server_;
  std::shared_ptr<TlsContext> tls_;
  std::string token_;
  std::string session_;
  ConnectionHandlers h_;
  Backoff backoff_;
  std::mt19937_64 rng_;
  boost::asio::steady_timer timer_;
  std::shared_ptr<Ws> ws_;  // set while open
  std::deque<std::string> queue_;
  bool writing_ = false;
  bool stopped_ = false;
  bool gave_up_ = false;
  bool untrusted_ = false;  // gave up because the certificate failed verification
};

}  // namespace parley::client
