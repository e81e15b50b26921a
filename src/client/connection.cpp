#include "client/connection.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <utility>
#include <variant>

namespace parley::client {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

namespace {
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr unsigned short kTakenOver = 4001;  // PROTOCOL.md: a newer connection took the session
}  // namespace

// ws:// or wss://: the same WebSocket over a plain TCP stream or TLS over one. Every use goes
// through visit(), so the two cannot drift apart.
struct Connection::Ws {
  using Plain = websocket::stream<beast::tcp_stream>;
  using Tls = websocket::stream<TlsStream>;
  explicit Ws(asio::any_io_executor ex) : stream(std::in_place_type<Plain>, ex) {}
  Ws(asio::any_io_executor ex, TlsContext& ctx) : stream(std::in_place_type<Tls>, ex, ctx) {}
  template <class F>
  decltype(auto) visit(F&& f) {
    return std::visit(std::forward<F>(f), stream);
  }
  std::variant<Plain, Tls> stream;
};

Connection::Connection(asio::io_context& io, ServerAddress server, std::shared_ptr<TlsContext> tls,
                       std::string token, std::string session, ConnectionHandlers handlers,
                       BackoffPolicy policy)
    : io_(io),
      server_(std::move(server)),
      tls_(std::move(tls)),
      token_(std::move(token)),
      session_(std::move(session)),
      h_(std::move(handlers)),
      backoff_(policy),
      rng_(std::random_device{}()),
      timer_(io) {}

Connection::~Connection() = default;

void Connection::start() {
  asio::co_spawn(io_, run(), asio::detached);
}

asio::awaitable<void> Connection::run() {
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  while (!stopped_ && !gave_up_) {
    std::optional<std::chrono::seconds> retry_after;
    const std::string why = co_await attempt(retry_after);
    if (stopped_) break;
    if (gave_up_) {
      if (untrusted_ && h_.on_untrusted) {
        h_.on_untrusted(why);
      } else if (h_.on_give_up) {
        h_.on_give_up(why);
      }
      break;
    }
    const auto delay = backoff_.next(uniform(rng_), retry_after);
    if (h_.on_down) h_.on_down(why, delay);
    timer_.expires_after(delay);
    co_await timer_.async_wait(kTuple);
  }
}

asio::awaitable<std::string> Connection::attempt(std::optional<std::chrono::seconds>& retry_after) {
  auto ex = co_await asio::this_coro::executor;
  tcp::resolver resolver(ex);
  auto [rec, endpoints] = co_await resolver.async_resolve(server_.host, server_.port, kTuple);
  if (rec) co_return "cannot resolve " + server_.host + ": " + rec.message();

  if (server_.tls && !tls_) {
    gave_up_ = true;
    co_return "no TLS context for an https server";
  }
  auto ws = server_.tls ? std::make_shared<Ws>(ex, *tls_) : std::make_shared<Ws>(ex);
  auto& tcp_layer =
      ws->visit([](auto& s) -> beast::tcp_stream& { return beast::get_lowest_layer(s); });
  tcp_layer.expires_after(5s);
  auto [cec, ep] = co_await tcp_layer.async_connect(endpoints, kTuple);
  if (cec) co_return "cannot connect: " + cec.message();
  if (auto* tls = std::get_if<Ws::Tls>(&ws->stream)) {
    tcp_layer.expires_after(10s);
    if (auto failed = co_await tls_handshake(tls->next_layer(), server_.host)) {
      if (failed->untrusted) gave_up_ = untrusted_ = true;
      co_return failed->message;
    }
  }
  tcp_layer.expires_never();

  // Keep-alive pings at half the idle time: a server that vanished without a FIN (a cable, a
  // stopped process) is noticed within 20 s instead of never.
  websocket::stream_base::timeout t{};
  t.handshake_timeout = 10s;
  t.idle_timeout = 20s;
  t.keep_alive_pings = true;
  const std::string bearer = "Bearer " + token_;  // a header, so the token stays out of URLs
  ws->visit([&](auto& s) {
    s.set_option(t);
    s.read_message_max(kMaxFrameBytes);
    s.set_option(websocket::stream_base::decorator([bearer](websocket::request_type& req) {
      req.set(http::field::authorization, bearer);
      req.set(http::field::user_agent, "parley-chat");
    }));
  });

  // Named: the awaitable starts the handshake only when awaited, after visit() returned.
  const std::string host = server_.authority();
  const std::string target = "/ws?session=" + session_;
  websocket::response_type res;
  auto [hec] =
      co_await ws->visit([&](auto& s) { return s.async_handshake(res, host, target, kTuple); });
  if (hec) {
    const unsigned status = res.result_int();
    if (status == 401 && h_.refresh_token) {
      token_ = h_.refresh_token();
      if (token_.empty()) gave_up_ = true;
      co_return "the server refused the token (401)";
    }
    if (status == 503 || status == 429) {
      retry_after = parse_retry_after(std::string_view(res[http::field::retry_after]));
    }
    if (status != 0) co_return "the server refused the WebSocket: HTTP " + std::to_string(status);
    co_return "WebSocket handshake failed: " + hec.message();
  }

  ws_ = ws;
  beast::flat_buffer buf;
  bool first = true;
  std::string why;
  for (;;) {
    auto [ec, n] = co_await ws->visit([&](auto& s) { return s.async_read(buf, kTuple); });
    if (ec) {
      if (ec == websocket::error::closed) {
        const auto code = ws->visit([](auto& s) { return s.reason().code; });
        if (code == kTakenOver) {
          gave_up_ = true;
          why = "another client took this session over (close 4001)";
        } else {
          why = "the server closed the connection (" + std::to_string(code) + ")";
        }
      } else {
        why = "connection lost: " + ec.message();
      }
      break;
    }
    std::string text = beast::buffers_to_string(buf.data());
    buf.consume(n);
    if (first) {
      first = false;
      backoff_.reset();
      if (h_.on_open) h_.on_open(text);
    } else if (h_.on_frame) {
      h_.on_frame(text);
    }
    if (ws_ != ws) break;  // stopped from a handler
  }
  if (ws_ == ws) {
    ws_.reset();
    queue_.clear();
    writing_ = false;
  }
  co_return why;
}

void Connection::write(std::string frame) {
  if (!ws_ || queue_.size() >= kMaxQueuedFrames) return;
  queue_.push_back(std::move(frame));
  if (!writing_) write_next();
}

void Connection::write_next() {
  if (!ws_ || queue_.empty()) {
    writing_ = false;
    return;
  }
  writing_ = true;
  // The frame's bytes live in the handler: a reconnect may clear the queue while it is written.
  auto frame = std::make_shared<std::string>(std::move(queue_.front()));
  queue_.pop_front();
  auto ws = ws_;
  auto on_written = [this, ws, frame](beast::error_code ec, size_t) {
    if (ws != ws_) return;  // that connection is gone; a newer one writes its own queue
    if (ec) {
      writing_ = false;  // the read side sees the failure and reconnects
      return;
    }
    write_next();
  };
  ws->visit([&](auto& s) {
    s.text(true);
    s.async_write(asio::buffer(*frame), std::move(on_written));
  });
}

void Connection::stop(std::function<void()> done) {
  stopped_ = true;
  timer_.cancel();
  if (!ws_) {
    asio::post(io_, std::move(done));
    return;
  }
  auto ws = ws_;
  ws_.reset();
  ws->visit([&](auto& s) {
    s.async_close(websocket::close_code::normal,
                  [ws, done = std::move(done)](beast::error_code) { done(); });
  });
}

}  // namespace parley::client
