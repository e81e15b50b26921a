#include "client/connection.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

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

struct Connection::Ws {
  explicit Ws(asio::any_io_executor ex) : stream(ex) {}
  websocket::stream<beast::tcp_stream> stream;
};

Connection::Connection(asio::io_context& io, ServerAddress server, std::string token,
                       std::string session, ConnectionHandlers handlers, BackoffPolicy policy)
    : io_(io),
      server_(std::move(server)),
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
      if (h_.on_give_up) h_.on_give_up(why);
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

  auto ws = std::make_shared<Ws>(ex);
  auto& tcp_layer = beast::get_lowest_layer(ws->stream);
  tcp_layer.expires_after(5s);
  auto [cec, ep] = co_await tcp_layer.async_connect(endpoints, kTuple);
  if (cec) co_return "cannot connect: " + cec.message();
  tcp_layer.expires_never();

  // Keep-alive pings at half the idle time: a server that vanished without a FIN (a cable, a
  // stopped process) is noticed within 20 s instead of never.
  websocket::stream_base::timeout t{};
  t.handshake_timeout = 10s;
  t.idle_timeout = 20s;
  t.keep_alive_pings = true;
  ws->stream.set_option(t);
  ws->stream.read_message_max(kMaxFrameBytes);
  const std::string bearer = "Bearer " + token_;  // a header, so the token stays out of URLs
  ws->stream.set_option(websocket::stream_base::decorator([bearer](websocket::request_type& req) {
    req.set(http::field::authorization, bearer);
    req.set(http::field::user_agent, "parley-chat");
  }));

  websocket::response_type res;
  auto [hec] = co_await ws->stream.async_handshake(res, server_.authority(),
                                                   "/ws?session=" + session_, kTuple);
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
    auto [ec, n] = co_await ws->stream.async_read(buf, kTuple);
    if (ec) {
      if (ec == websocket::error::closed) {
        const auto code = ws->stream.reason().code;
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
  ws->stream.text(true);
  ws->stream.async_write(asio::buffer(*frame), [this, ws, frame](beast::error_code ec, size_t) {
    if (ws != ws_) return;  // that connection is gone; a newer one writes its own queue
    if (ec) {
      writing_ = false;  // the read side sees the failure and reconnects
      return;
    }
    write_next();
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
  ws->stream.async_close(websocket::close_code::normal,
                         [ws, done = std::move(done)](beast::error_code) { done(); });
}

}  // namespace parley::client
