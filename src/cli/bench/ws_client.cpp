#include "cli/bench/ws_client.h"

#include <boost/beast/http.hpp>

#include "client/backoff.h"

namespace parley::bench {

namespace websocket = beast::websocket;

WsClient::WsClient(net::any_io_executor ex) : ws_(std::move(ex)) {}

awaitable<ConnectOutcome> WsClient::connect(const Target& target, const std::string& path,
                                            std::chrono::milliseconds timeout) {
  ConnectOutcome out;
  auto& tcp = beast::get_lowest_layer(ws_);
  tcp.expires_after(timeout);
  auto reason_of = [](beast::error_code ec) -> std::string {
    if (ec == beast::error::timeout) return "timeout";
    if (ec == net::error::connection_refused) return "refused";
    if (ec == net::error::connection_reset) return "reset";
    if (ec == net::error::eof || ec == beast::http::error::end_of_stream) return "closed";
    return "error_" + std::to_string(ec.value());
  };
  if (auto [ec] = co_await tcp.async_connect(target.endpoint, use_tuple); ec) {
    out.reason = reason_of(ec);
    co_return out;
  }
  websocket::response_type res;
  auto [ec] = co_await ws_.async_handshake(res, target.host + ":" + std::to_string(target.port),
                                           path, use_tuple);
  if (ec) {
    if (ec == websocket::error::upgrade_declined) {
      out.http_status = static_cast<int>(res.result_int());
      auto it = res.find(beast::http::field::retry_after);
      out.retry_after = it != res.end();
      if (out.retry_after) out.retry_after_s = client::parse_retry_after(it->value());
      out.reason = "http_" + std::to_string(out.http_status);
    } else {
      out.reason = reason_of(ec);
    }
    // A reset, not a FIN: a storm's thousands of refused attempts leave no TIME_WAIT behind.
    beast::error_code ignored;
    tcp.socket().set_option(net::socket_base::linger(true, 0), ignored);
    tcp.socket().close(ignored);
    co_return out;
  }
  // From here the websocket stream keeps its own (disabled) timeouts: a bench connection may
  // sit idle for the whole run.
  tcp.expires_never();
  ws_.set_option(websocket::stream_base::timeout{std::chrono::seconds(30),
                                                 websocket::stream_base::none(), false});
  ws_.text(true);
  ws_.read_message_max(16 * 1024 * 1024);
  open_ = true;
  out.ok = true;
  out.reason = "ok";
  co_return out;
}

void WsClient::start_reading(TextHandler on_text, CloseHandler on_close) {
  on_text_ = std::move(on_text);
  on_close_ = std::move(on_close);
  reading_ = true;
  net::co_spawn(ws_.get_executor(), read_loop(shared_from_this()), net::detached);
}

awaitable<void> WsClient::read_loop(std::shared_ptr<WsClient> /*self: kept alive*/) {
  beast::flat_buffer buffer;
  int close_code = 0;
  std::string why;
  for (;;) {
    auto [ec, n] = co_await ws_.async_read(buffer, use_tuple);
    if (ec) {
      if (ec == websocket::error::closed) {
        close_code = ws_.reason().code;
        why = "close_" + std::to_string(close_code);
      } else if (ec != net::error::operation_aborted && ec != net::error::bad_descriptor) {
        why = "dropped";
      }
      break;
    }
    auto data = buffer.cdata();
    on_text_(std::string_view(static_cast<const char*>(data.data()), data.size()));
    buffer.consume(n);
  }
  open_ = false;  // the write loop drops what is queued: a write may still hold its buffer
  if (on_close_) on_close_(close_code, why);
  reading_ = false;
}

void WsClient::send(std::string frame) {
  if (!open_) return;
  queued_bytes_ += frame.size();
  queue_.push_back(std::move(frame));
  if (!writing_) {
    writing_ = true;
    net::co_spawn(ws_.get_executor(), write_loop(shared_from_this()), net::detached);
  }
}

awaitable<void> WsClient::write_loop(std::shared_ptr<WsClient> /*self: kept alive*/) {
  while (!queue_.empty() && open_) {
    auto [ec, n] = co_await ws_.async_write(net::buffer(queue_.front()), use_tuple);
    if (ec) {
      open_ = false;
      break;
    }
    queued_bytes_ -= queue_.front().size();
    queue_.pop_front();
  }
  if (!open_) {
    queue_.clear();
    queued_bytes_ = 0;
  }
  writing_ = false;
}

void WsClient::abort() {
  open_ = false;
  beast::error_code ignored;
  beast::get_lowest_layer(ws_).socket().close(ignored);
}

void WsClient::reset() {
  beast::error_code ignored;
  beast::get_lowest_layer(ws_).socket().set_option(net::socket_base::linger(true, 0), ignored);
  abort();
}

}  // namespace parley::bench
