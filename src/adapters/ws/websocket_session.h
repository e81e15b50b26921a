#pragma once
// One WebSocket connection: reads frames into the gateway, writes the gateway's frames out
// through a bounded queue (one write in flight), closes slow consumers with 1008.
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <deque>
#include <memory>
#include <string>

#include "gateway/frame.h"

namespace parley {

class Gateway;
struct Client;

class WebSocketSession final : public FrameSink,
                               public std::enable_shared_from_this<WebSocketSession> {
 public:
  WebSocketSession(boost::asio::ip::tcp::socket socket, Gateway& gateway, int worker,
                   std::string user, std::string session);

  /// Completes the upgrade of @p request, then serves the connection.
  void run(boost::beast::http::request<boost::beast::http::string_body> request);

  // FrameSink
  void send(Frame frame) override;
  size_t queued_bytes() const override { return queued_bytes_; }
  void close(uint16_t code, std::string reason) override;

 private:
  void on_accept(boost::beast::error_code ec);
  void do_read();
  void on_read(boost::beast::error_code ec, size_t bytes);
  void do_write();
  void on_write(boost::beast::error_code ec, size_t bytes);
  void do_close();
  void finish();

  boost::beast::websocket::stream<boost::beast::tcp_stream> ws_;
  boost::beast::flat_buffer buffer_;
  Gateway& gateway_;
  int worker_;
  std::string user_;
  std::string session_;
  std::shared_ptr<Client> client_;

  std::deque<Frame> queue_;  // front() is being written while writing_
  size_t queued_bytes_ = 0;
  size_t max_queue_bytes_;
  bool writing_ = false;
  bool closing_ = false;
  bool close_sent_ = false;
  bool finished_ = false;
  uint16_t close_code_ = 1000;
  std::string close_reason_;
  boost::asio::steady_timer hard_close_;
};

}  // namespace parley
