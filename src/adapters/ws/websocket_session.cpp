#include "adapters/ws/websocket_session.h"

#include <spdlog/spdlog.h>

#include "app/metrics.h"
#include "gateway/gateway.h"

namespace parley {

namespace beast = boost::beast;
namespace websocket = beast::websocket;

namespace {
// How long a closing connection may take to flush its last write and close frame before its
// socket is torn down: a client that never reads cannot hold the server's memory forever.
constexpr auto kHardCloseAfter = std::chrono::seconds(15);
}  // namespace

WebSocketSession::WebSocketSession(boost::asio::ip::tcp::socket socket, Gateway& gateway,
                                   int worker, std::string user, std::string session)
    : ws_(std::move(socket)),
      gateway_(gateway),
      worker_(worker),
      user_(std::move(user)),
      session_(std::move(session)),
      max_queue_bytes_(gateway.services().limits.send_queue_bytes),
      hard_close_(ws_.get_executor()) {}

void WebSocketSession::run(beast::http::request<beast::http::string_body> request) {
  beast::get_lowest_layer(ws_).expires_never();
  auto timeouts = websocket::stream_base::timeout::suggested(beast::role_type::server);
  timeouts.idle_timeout = std::chrono::seconds(60);  // pings keep live peers; dead ones drop
  timeouts.keep_alive_pings = true;
  ws_.set_option(timeouts);
  ws_.set_option(websocket::stream_base::decorator(
      [](websocket::response_type& res) { res.set(beast::http::field::server, "parley"); }));
  // Over the frame limit Beast fails the read and closes with 1009; invalid UTF-8 in a text
  // frame fails it with 1007.
  ws_.read_message_max(gateway_.services().limits.max_frame_bytes);
  ws_.auto_fragment(false);
  ws_.async_accept(request,
                   beast::bind_front_handler(&WebSocketSession::on_accept, shared_from_this()));
}

void WebSocketSession::on_accept(beast::error_code ec) {
  if (ec) return;  // the handshake failed: no client was ever opened
  client_ = gateway_.open(worker_, user_, session_, weak_from_this());
  do_read();
}

void WebSocketSession::do_read() {
  ws_.async_read(buffer_,
                 beast::bind_front_handler(&WebSocketSession::on_read, shared_from_this()));
}

void WebSocketSession::on_read(beast::error_code ec, size_t) {
  if (ec) return finish();
  if (!ws_.got_text()) {
    buffer_.clear();
    return close(kCloseUnsupported, "binary frames are not part of the protocol");
  }
  auto data = buffer_.cdata();
  gateway_.on_frame(client_, std::string_view(static_cast<const char*>(data.data()), data.size()));
  buffer_.consume(buffer_.size());
  if (!finished_) do_read();
}

void WebSocketSession::send(Frame frame) {
  if (closing_ || finished_) return;
  if (queued_bytes_ + frame->size() > max_queue_bytes_) {
    count(Metrics::global().slow_consumer_closes_total);
    return close(kClosePolicy, "send queue full: read faster, then resume with since");
  }
  queued_bytes_ += frame->size();
  queue_.push_back(std::move(frame));
  if (!writing_) do_write();
}

void WebSocketSession::do_write() {
  writing_ = true;
  ws_.text(true);
  ws_.async_write(boost::asio::buffer(*queue_.front()),
                  beast::bind_front_handler(&WebSocketSession::on_write, shared_from_this()));
}

void WebSocketSession::on_write(beast::error_code ec, size_t) {
  writing_ = false;
  queued_bytes_ -= queue_.front()->size();
  queue_.pop_front();
  if (ec) return finish();
  if (closing_) return do_close();
  if (!queue_.empty()) do_write();
}

void WebSocketSession::close(uint16_t code, std::string reason) {
  if (closing_ || finished_) return;
  closing_ = true;
  close_code_ = code;
  close_reason_ = std::move(reason);
  // Drop what waits; the frame being written (if any) must finish before the close frame.
  while (queue_.size() > (writing_ ? 1u : 0u)) {
    queued_bytes_ -= queue_.back()->size();
    queue_.pop_back();
  }
  hard_close_.expires_after(kHardCloseAfter);
  hard_close_.async_wait([self = shared_from_this()](beast::error_code ec) {
    if (ec) return;
    beast::error_code ignored;
    beast::get_lowest_layer(self->ws_).socket().close(ignored);
  });
  if (!writing_) do_close();
}

void WebSocketSession::do_close() {
  if (close_sent_) return;
  close_sent_ = true;
  ws_.async_close(
      websocket::close_reason(static_cast<websocket::close_code>(close_code_), close_reason_),
      [self = shared_from_this()](beast::error_code) {
        beast::error_code ignored;
        beast::get_lowest_layer(self->ws_).socket().shutdown(
            boost::asio::ip::tcp::socket::shutdown_both, ignored);
        self->finish();
      });
}

void WebSocketSession::finish() {
  if (finished_) return;
  finished_ = true;
  closing_ = true;
  hard_close_.cancel();
  if (client_) gateway_.on_close(client_);
}

}  // namespace parley
