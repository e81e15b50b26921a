#include "adapters/ws/metrics_server.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <thread>

#include "gateway/http_api.h"

namespace parley {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct MetricsServer::Impl {
  asio::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  std::thread thread;

  void accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) serve(std::move(socket));
      accept();
    });
  }

  // One request, answered, then the connection closes. Blocking, with a deadline: a scraper
  // that stalls holds this thread for at most 5 s.
  static void serve(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    stream.expires_after(std::chrono::seconds(5));
    beast::flat_buffer buffer;
    http::request_parser<http::empty_body> parser;
    parser.header_limit(16 * 1024);
    beast::error_code ec;
    http::read(stream, buffer, parser, ec);
    if (ec) return;
    const auto& req = parser.get();
    bool found = req.target() == "/metrics";
    http::response<http::string_body> res(found ? http::status::ok : http::status::not_found, 11);
    res.set(http::field::server, "parley");
    res.set(http::field::content_type, found ? "text/plain; version=0.0.4" : "text/plain");
    res.keep_alive(false);
    if (found && req.method() != http::verb::head) res.body() = metrics_text();
    if (!found) res.body() = "GET /metrics\n";
    res.prepare_payload();
    http::write(stream, res, ec);
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  }
};

MetricsServer::MetricsServer(const std::string& host, uint16_t port) : impl_(new Impl) {
  tcp::endpoint ep(asio::ip::make_address(host), port);
  impl_->acceptor.open(ep.protocol());
  impl_->acceptor.set_option(asio::socket_base::reuse_address(true));
  impl_->acceptor.bind(ep);
  impl_->acceptor.listen();
  impl_->accept();
  impl_->thread = std::thread([this] { impl_->ioc.run(); });
}

MetricsServer::~MetricsServer() {
  asio::post(impl_->ioc, [this] {
    beast::error_code ignored;
    impl_->acceptor.close(ignored);
    impl_->ioc.stop();
  });
  if (impl_->thread.joinable()) impl_->thread.join();
}

uint16_t MetricsServer::port() const {
  return impl_->acceptor.local_endpoint().port();
}

}  // namespace parley
