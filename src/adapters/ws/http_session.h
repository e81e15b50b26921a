#pragma once
// One HTTP connection: requests in order, keep-alive, and the upgrade to WebSocket. A template
// on the stream (beast::tcp_stream, or TlsStream: the TLS handshake first), instantiated for
// both in the .cpp.
#include <atomic>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "adapters/ws/tls_stream.h"

namespace parley {

class Gateway;
class HttpApi;

/// One place in the bounded count of TLS handshakes in progress, given back when the handshake
/// ends (or the connection does).
class HandshakeSlot {
 public:
  HandshakeSlot() = default;
  explicit HandshakeSlot(std::shared_ptr<std::atomic<size_t>> count) : count_(std::move(count)) {}
  HandshakeSlot(HandshakeSlot&&) = default;
  HandshakeSlot& operator=(HandshakeSlot&&) = default;
  ~HandshakeSlot() { release(); }
  void release() {
    if (count_) count_->fetch_sub(1, std::memory_order_relaxed);
    count_.reset();
  }

 private:
  std::shared_ptr<std::atomic<size_t>> count_;
};

template <class Stream>
class HttpSession : public std::enable_shared_from_this<HttpSession<Stream>> {
 public:
  /// @p handshake_timeout and @p slot are for TLS only.
  HttpSession(Stream stream, Gateway& gateway, HttpApi& api, int worker,
              std::chrono::milliseconds handshake_timeout = {}, HandshakeSlot slot = {})
      : stream_(std::move(stream)),
        gateway_(gateway),
        api_(api),
        worker_(worker),
        handshake_timeout_(handshake_timeout),
        slot_(std::move(slot)) {}

  void run();

 private:
  void on_handshake(boost::beast::error_code ec);
  void do_read();
  void on_read(boost::beast::error_code ec, size_t);
  void bad_request(const std::string& why);
  void uri_too_long();
  void upgrade(boost::beast::http::request<boost::beast::http::string_body> req);
  void respond(int status, const std::string& content_type, std::string body, bool keep_alive,
               int64_t retry_after_s = 0);
  // After the last response: no more from us, then the connection ends.
  void end();
  void shutdown();
  void linger();
  void drain();

  Stream stream_;
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  Gateway& gateway_;
  HttpApi& api_;
  int worker_;
  std::chrono::milliseconds handshake_timeout_;
  HandshakeSlot slot_;
  size_t drained_ = 0;  // bytes dropped by linger()
};

extern template class HttpSession<boost::beast::tcp_stream>;
extern template class HttpSession<TlsStream>;

}  // namespace parley
