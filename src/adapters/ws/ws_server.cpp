#include "adapters/ws/ws_server.h"

#include <spdlog/spdlog.h>

#include <boost/url.hpp>
#include <cerrno>
#include <stdexcept>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include "adapters/ws/session_id.h"
#include "adapters/ws/websocket_session.h"
#include "domain/names.h"
#include "gateway/codec.h"
#include "gateway/gateway.h"
#include "gateway/http_api.h"
#include "runtime/worker_pool.h"

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
// Out of descriptors (or kernel memory), accepting again at once fails again at once: the
// pending connection stays in the backlog and the acceptor spins. Pause instead.
constexpr auto kAcceptPause = std::chrono::milliseconds(100);
constexpr auto kAcceptLogEvery = std::chrono::seconds(1);

// The length of the target in the request line at the front of @p head, which may stop
// mid-line.
size_t target_length(std::string_view head) {
  size_t start = head.find(' ');
  if (start == std::string_view::npos) return 0;
  ++start;
  size_t end = head.find_first_of(" \r\n", start);
  return (end == std::string_view::npos ? head.size() : end) - start;
}

// One HTTP connection: requests in order, keep-alive, and the upgrade to WebSocket.
class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket socket, Gateway& gateway, HttpApi& api, int worker)
      : stream_(std::move(socket)), gateway_(gateway), api_(api), worker_(worker) {}

  void run() { do_read(); }

 private:
  void do_read() {
    parser_.emplace();
    parser_->body_limit(kMaxHttpBody);
    parser_->header_limit(kMaxHttpHead);
    stream_.expires_after(std::chrono::seconds(30));
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&HttpSession::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, size_t) {
    if (ec == http::error::end_of_stream) return shutdown();
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
    api_.handle(hr, [self = shared_from_this(), keep_alive, head](HttpResponse r) {
      // The answer may come from a storage thread: write it from this connection's worker.
      asio::post(self->stream_.get_executor(), [self, keep_alive, head, r = std::move(r)] {
        self->respond(r.status, r.content_type, head ? std::string() : r.body, keep_alive);
      });
    });
  }

  void bad_request(const std::string& why) {
    respond(400, "application/json", codec::http_error_body(make_error(Errc::bad_request, why)),
            false);
  }

  void uri_too_long() {
    respond(414, "application/json",
            codec::http_error_body(
                make_error(Errc::too_large, "request target too long (limit 8 KiB)")),
            false);
  }

  void upgrade(http::request<http::string_body> req) {
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
      int status = admitted.error().code == Errc::rate_limited ? 429 : 503;
      return respond(status, "application/json", codec::http_error_body(admitted.error()), false);
    }
    if (!has_session) session = ws::new_session_id();
    // Beast performs the handshake (the 101 response); the framing after it is our own.
    auto ws = std::make_shared<beast::websocket::stream<tcp::socket>>(stream_.release_socket());
    ws->set_option(beast::websocket::stream_base::decorator(
        [](beast::websocket::response_type& res) { res.set(http::field::server, "parley"); }));
    auto request = std::make_shared<http::request<http::string_body>>(std::move(req));
    ws->async_accept(
        *request, [ws, request, &gateway = gateway_, worker = worker_, user = std::move(*user),
                   session = std::move(session)](beast::error_code ec) mutable {
          if (ec) return;
          std::make_shared<WebSocketSession>(std::move(ws->next_layer()), gateway, worker,
                                             std::move(user), std::move(session))
              ->start();
        });
  }

  void respond(int status, const std::string& content_type, std::string body, bool keep_alive,
               int64_t retry_after_s = 0) {
    auto res =
        std::make_shared<http::response<http::string_body>>(static_cast<http::status>(status), 11);
    res->set(http::field::server, "parley");
    if (retry_after_s > 0) res->set(http::field::retry_after, std::to_string(retry_after_s));
    res->set(http::field::content_type, content_type);
    res->set(http::field::cache_control, "no-store");
    res->keep_alive(keep_alive);
    res->body() = std::move(body);
    res->prepare_payload();
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res, keep_alive](beast::error_code ec, size_t) {
                        if (ec) return;
                        if (keep_alive) return self->do_read();
                        self->shutdown();
                        self->linger();
                      });
  }

  void shutdown() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  // Reads and drops what the client still sends until it closes its side, for a bounded time
  // and number of bytes; the socket closes when the session goes.
  void linger() {
    stream_.expires_after(kLingerFor);  // for all of it: the timer is not re-armed below
    drain();
  }

  void drain() {
    if (drained_ >= kLingerBytes) return;
    buffer_.clear();
    stream_.async_read_some(buffer_.prepare(16 * 1024),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
                              if (ec) return;  // the client's FIN, or the time is up
                              self->drained_ += n;
                              self->drain();
                            });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  Gateway& gateway_;
  HttpApi& api_;
  int worker_;
  size_t drained_ = 0;  // bytes dropped by linger()
};

}  // namespace

struct WsServer::Impl {
  Gateway& gateway;
  HttpApi& api;
  WorkerPool& pool;
  asio::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  asio::steady_timer accept_pause{ioc};
  // Accept errors logged at most once per kAcceptLogEvery; the others are counted.
  std::chrono::steady_clock::time_point last_accept_log{};
  uint64_t accept_errors_unlogged = 0;

  void accept() {
    int worker = pool.next();
    // The socket is created on its worker's context: the connection lives there from now on.
    acceptor.async_accept(
        pool.context(worker), [this, worker](beast::error_code ec, tcp::socket s) {
          if (ec == asio::error::operation_aborted) return;
          if (!ec) {
            s.set_option(tcp::no_delay(true), ec);
            asio::post(pool.context(worker), [this, worker, s = std::move(s)]() mutable {
              std::make_shared<HttpSession>(std::move(s), gateway, api, worker)->run();
            });
            return accept();
          }
          log_accept_error(ec);
          if (!out_of_resources(ec)) return accept();  // e.g. a connection reset in the backlog
          // Every descriptor is in use: the connection stays in the backlog and accepting at
          // once would fail at once, a spinning core. Retry once connections may have closed.
          accept_pause.expires_after(kAcceptPause);
          accept_pause.async_wait([this](beast::error_code wait_ec) {
            if (!wait_ec) accept();
          });
        });
  }

  static bool out_of_resources(const beast::error_code& ec) {
    if (ec.category() != boost::system::system_category()) return false;
    int e = ec.value();
    return e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM;
  }

  void log_accept_error(const beast::error_code& ec) {
    auto now = std::chrono::steady_clock::now();
    if (last_accept_log != std::chrono::steady_clock::time_point{} &&
        now - last_accept_log < kAcceptLogEvery) {
      ++accept_errors_unlogged;
      return;
    }
    spdlog::warn("accept: {}{} ({} more accept errors since the last one logged)", ec.message(),
                 out_of_resources(ec) ? "; pausing accepts for 100 ms at a time" : "",
                 accept_errors_unlogged);
    last_accept_log = now;
    accept_errors_unlogged = 0;
  }
};

WsServer::WsServer(Gateway& gateway, HttpApi& api, WorkerPool& pool)
    : impl_(new Impl{gateway, api, pool}) {
  if (!ws::init_session_ids()) throw std::runtime_error("libsodium failed to initialise");
}

WsServer::~WsServer() = default;

uint16_t WsServer::listen(const std::string& host, uint16_t port) {
  tcp::endpoint ep(asio::ip::make_address(host), port);
  impl_->acceptor.open(ep.protocol());
  impl_->acceptor.set_option(asio::socket_base::reuse_address(true));
  impl_->acceptor.bind(ep);
  impl_->acceptor.listen(asio::socket_base::max_listen_connections);
  impl_->accept();
  return impl_->acceptor.local_endpoint().port();
}

void WsServer::run() {
  impl_->ioc.run();
}

void WsServer::stop() {
  asio::post(impl_->ioc, [this] {
    beast::error_code ignored;
    impl_->acceptor.close(ignored);
    impl_->accept_pause.cancel();
    impl_->ioc.stop();
  });
}

}  // namespace parley
