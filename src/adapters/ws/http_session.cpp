#include "adapters/ws/http_session.h"

#include <spdlog/spdlog.h>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/url.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "adapters/ws/session_id.h"
#include "adapters/ws/websocket_session.h"
#include "domain/names.h"
#include "gateway/codec.h"
#include "gateway/gateway.h"
#include "gateway/http_api.h"

namespace parley {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr size_t kMaxHttpBody = 64 * 1024;
// The request head (request line and header fields) is refused with 431 past this, and the
// target alone with 414 past kMaxTarget: the longest legitimate target is a history query with
// a percent-encoded room name, well under 1 KiB.
constexpr size_t kMaxHttpHead = 16 * 1024;
constexpr size_t kMaxTarget = 8 * 1024;
// After an error response the connection is closed, but what the client is still sending is
// read and dropped for a while first: closing a socket with unread data resets it, and the
// reset can destroy the response before the client has read it.
constexpr auto kLingerFor = std::chrono::seconds(2);
constexpr size_t kLingerBytes = 256 * 1024;
// Retry-After on the 503 of an instance at --max-connections: connections close at human pace.
constexpr int64_t kFullRetryAfterS = 5;
// The answer to plain HTTP on the TLS port.
constexpr std::string_view kPlainHttpToTls =
    "HTTP/1.1 400 Bad Request\r\nServer: parley\r\nContent-Type: text/plain\r\n"
    "Content-Length: 51\r\nConnection: close\r\n\r\n"
    "This port speaks TLS: use https:// and wss:// URLs\n";
static_assert(kPlainHttpToTls.size() - kPlainHttpToTls.find("\r\n\r\n") - 4 == 51);

// The length of the target in the request line at the front of @p head, which may stop
// mid-line.
size_t target_length(std::string_view head) {
  size_t start = head.find(' ');
  if (start == std::string_view::npos) return 0;
  ++start;
  size_t end = head.find_first_of(" \r\n", start);
  return (end == std::string_view::npos ? head.size() : end) - start;
}

}  // namespace

template <class Stream>
void HttpSession<Stream>::run() {
  if constexpr (is_tls_v<Stream>) {
    // A client that connects and never completes the handshake is closed like an idle HTTP
    // client, only sooner: no request can be read before it.
    beast::get_lowest_layer(stream_).expires_after(handshake_timeout_);
    stream_.async_handshake(
        asio::ssl::stream_base::server,
        beast::bind_front_handler(&HttpSession::on_handshake, this->shared_from_this()));
  } else {
    do_read();
  }
}

template <class Stream>
void HttpSession<Stream>::on_handshake(beast::error_code ec) {
  slot_.release();
  if (!ec) return do_read();
  spdlog::debug("TLS handshake failed: {}", ec.message());
  // Plain HTTP sent to the TLS port (OpenSSL recognises a request line): say so in plain HTTP,
  // as nginx does, instead of a TLS alert the client cannot read. Anything else (a TLS 1.1
  // client, a timeout) just ends.
  if (ec.category() != asio::error::get_ssl_category() ||
      ERR_GET_REASON(static_cast<unsigned long>(ec.value())) != SSL_R_HTTP_REQUEST) {
    return;
  }
  asio::async_write(
      tcp_socket(stream_), asio::buffer(kPlainHttpToTls),
      [self = this->shared_from_this()](beast::error_code, size_t) { self->shutdown(); });
}

template <class Stream>
void HttpSession<Stream>::do_read() {
  parser_.emplace();
  parser_->body_limit(kMaxHttpBody);
  parser_->header_limit(kMaxHttpHead);
  beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(30));
  http::async_read(stream_, buffer_, *parser_,
                   beast::bind_front_handler(&HttpSession::on_read, this->shared_from_this()));
}

template <class Stream>
void HttpSession<Stream>::on_read(beast::error_code ec, size_t) {
  if (ec == http::error::end_of_stream) {
    if constexpr (is_tls_v<Stream>) return end();  // answer the client's close_notify
    return shutdown();
  }
  if (ec == http::error::body_limit) {
    return respond(413, "application/json",
                   codec::http_error_body(make_error(Errc::too_large, "request body too large")),
                   false);
  }
  if (ec == http::error::header_limit) {
    // Which part is too long: once the request line is complete the parser has stored its
    // target (and consumed the line); if it never completed, the buffer still starts with it.
    size_t target = parser_->get().target().size();
    if (target == 0) {
      const auto head = buffer_.data();
      target = target_length({static_cast<const char*>(head.data()), head.size()});
    }
    if (target > kMaxTarget) return uri_too_long();
    return respond(431, "application/json",
                   codec::http_error_body(make_error(
                       Errc::too_large, "request header fields too large (limit 16 KiB)")),
                   false);
  }
  // A client that hung up mid-request, a timeout, a reset: nobody to answer.
  const auto& parse_errors = beast::error_code(http::error::bad_version).category();
  if (ec == http::error::partial_message || (ec && ec.category() != parse_errors)) return;
  // Any other parse error is a malformed request: a bad request line, method, target or
  // version (Beast takes HTTP/1.0 and 1.1 only), a malformed header field or value, a bad
  // Content-Length or chunk.
  if (ec) return bad_request("malformed HTTP request: " + ec.message());
  if (parser_->get().target().size() > kMaxTarget) return uri_too_long();
  auto req = parser_->release();
  if (beast::websocket::is_upgrade(req)) return upgrade(std::move(req));
  HttpRequest hr{std::string(req.method_string()), std::string(req.target()),
                 std::string(req[http::field::authorization]), std::move(req.body())};
  bool keep_alive = req.keep_alive();
  bool head = req.method() == http::verb::head;
  api_.handle(hr, [self = this->shared_from_this(), keep_alive, head](HttpResponse r) {
    // The answer may come from a storage thread: write it from this connection's worker.
    asio::post(self->stream_.get_executor(), [self, keep_alive, head, r = std::move(r)] {
      self->respond(r.status, r.content_type, head ? std::string() : r.body, keep_alive);
    });
  });
}

template <class Stream>
void HttpSession<Stream>::bad_request(const std::string& why) {
  respond(400, "application/json", codec::http_error_body(make_error(Errc::bad_request, why)),
          false);
}

template <class Stream>
void HttpSession<Stream>::uri_too_long() {
  respond(
      414, "application/json",
      codec::http_error_body(make_error(Errc::too_large, "request target too long (limit 8 KiB)")),
      false);
}

template <class Stream>
void HttpSession<Stream>::upgrade(http::request<http::string_body> req) {
  auto url = boost::urls::parse_origin_form(req.target());
  if (!url || url->path() != "/ws") {
    return respond(404, "application/json",
                   codec::http_error_body(make_error(Errc::not_found, "WebSocket lives at /ws")),
                   false);
  }
  // A reconnect storm is refused here, before the token is even looked at.
  if (int64_t retry_after_s = gateway_.admit_connect(); retry_after_s > 0) {
    return respond(503, "application/json",
                   codec::http_error_body(make_error(
                       Errc::unavailable, "too many connections being opened; retry after " +
                                              std::to_string(retry_after_s) + " s")),
                   false, retry_after_s);
  }
  std::string token = HttpApi::bearer_token(std::string(req[http::field::authorization]));
  std::string session;
  bool has_session = false;
  for (auto param : url->params()) {
    if (param.key == "token" && token.empty()) token = param.value;
    if (param.key == "session") {
      session = param.value;
      has_session = true;
    }
  }
  auto user = gateway_.authenticate(token);
  if (!user) {
    return respond(401, "application/json", codec::http_error_body(user.error()), false);
  }
  if (has_session && !valid_session_id(session)) {
    return respond(400, "application/json",
                   codec::http_error_body(make_error(
                       Errc::bad_request, "session must be 8-64 chars of [A-Za-z0-9_-]")),
                   false);
  }
  if (auto admitted = gateway_.admit(*user); !admitted) {
    // 429: this user holds too many connections, which only the user can change. 503: the
    // instance is full; Retry-After spaces the clients out (another instance may take them).
    bool user_limit = admitted.error().code == Errc::rate_limited;
    return respond(user_limit ? 429 : 503, "application/json",
                   codec::http_error_body(admitted.error()), false,
                   user_limit ? 0 : kFullRetryAfterS);
  }
  if (!has_session) session = ws::new_session_id();
  // Beast performs the handshake (the 101 response); the framing after it is our own, on the
  // bare socket, or on the TLS stream as it is.
  using Next = std::conditional_t<is_tls_v<Stream>, TlsStream, tcp::socket>;
  std::shared_ptr<beast::websocket::stream<Next>> ws;
  if constexpr (is_tls_v<Stream>) {
    ws = std::make_shared<beast::websocket::stream<Next>>(std::move(stream_));
  } else {
    ws = std::make_shared<beast::websocket::stream<Next>>(stream_.release_socket());
  }
  ws->set_option(beast::websocket::stream_base::decorator(
      [](beast::websocket::response_type& res) { res.set(http::field::server, "parley"); }));
  auto request = std::make_shared<http::request<http::string_body>>(std::move(req));
  ws->async_accept(
      *request, [ws, request, &gateway = gateway_, worker = worker_, user = std::move(*user),
                 session = std::move(session)](beast::error_code ec) mutable {
        if (ec) return;
        // The request's read deadline must not cut the WebSocket: it keeps its own keepalive.
        if constexpr (is_tls_v<Stream>) beast::get_lowest_layer(ws->next_layer()).expires_never();
        std::make_shared<WebSocketSession<Next>>(std::move(ws->next_layer()), gateway, worker)
            ->start(std::move(user), std::move(session));
      });
}

template <class Stream>
void HttpSession<Stream>::respond(int status, const std::string& content_type, std::string body,
                                  bool keep_alive, int64_t retry_after_s) {
  auto res =
      std::make_shared<http::response<http::string_body>>(static_cast<http::status>(status), 11);
  res->set(http::field::server, "parley");
  if (retry_after_s > 0) res->set(http::field::retry_after, std::to_string(retry_after_s));
  res->set(http::field::content_type, content_type);
  res->set(http::field::cache_control, "no-store");
  res->keep_alive(keep_alive);
  res->body() = std::move(body);
  res->prepare_payload();
  http::async_write(
      stream_, *res,
      [self = this->shared_from_this(), res, keep_alive](beast::error_code ec, size_t) {
        if (ec) return;
        if (keep_alive) return self->do_read();
        self->end();
      });
}

template <class Stream>
void HttpSession<Stream>::end() {
  if constexpr (is_tls_v<Stream>) {
    // close_notify, then wait (boundedly) for the client's: OpenSSL reads and drops what the
    // client still sends meanwhile, which is what linger() does for plain TCP.
    beast::get_lowest_layer(stream_).expires_after(kLingerFor);
    stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {});
  } else {
    shutdown();
    linger();
  }
}

template <class Stream>
void HttpSession<Stream>::shutdown() {
  beast::error_code ignored;
  tcp_socket(stream_).shutdown(tcp::socket::shutdown_send, ignored);
}

// Reads and drops what the client still sends until it closes its side, for a bounded time
// and number of bytes; the socket closes when the session goes.
template <class Stream>
void HttpSession<Stream>::linger() {
  beast::get_lowest_layer(stream_).expires_after(
      kLingerFor);  // for all of it: the timer is not re-armed below
  drain();
}

template <class Stream>
void HttpSession<Stream>::drain() {
  if (drained_ >= kLingerBytes) return;
  buffer_.clear();
  stream_.async_read_some(buffer_.prepare(16 * 1024),
                          [self = this->shared_from_this()](beast::error_code ec, size_t n) {
                            if (ec) return;  // the client's FIN, or the time is up
                            self->drained_ += n;
                            self->drain();
                          });
}

template class HttpSession<beast::tcp_stream>;
template class HttpSession<TlsStream>;

}  // namespace parley
