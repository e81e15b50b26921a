#include "cli/bench/http_client.h"

namespace parley::bench {

namespace http = beast::http;

HttpClient::HttpClient(net::any_io_executor ex, Target target)
    : target_(std::move(target)), stream_(std::move(ex)) {}

awaitable<HttpReply> HttpClient::request(http::verb verb, std::string target, std::string body,
                                         std::string token, std::chrono::milliseconds timeout) {
  http::request<http::string_body> req{verb, target, 11};
  req.set(http::field::host, target_.host + ":" + std::to_string(target_.port));
  req.set(http::field::user_agent, "parley-bench");
  if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
  if (!body.empty()) req.set(http::field::content_type, "application/json");
  req.body() = std::move(body);
  req.keep_alive(true);
  req.prepare_payload();
  // A kept-alive connection the server has since closed fails at once: try once more, fresh.
  bool reused = connected_;
  HttpReply reply = co_await attempt(req, timeout);
  if (reply.status == 0 && reused && reply.error != "timeout") {
    reply = co_await attempt(req, timeout);
  }
  co_return reply;
}

awaitable<HttpReply> HttpClient::attempt(const http::request<http::string_body>& req,
                                         std::chrono::milliseconds timeout) {
  HttpReply reply;
  auto fail = [&](beast::error_code ec) {
    connected_ = false;
    beast::error_code ignored;
    stream_.socket().close(ignored);
    reply.error = ec == beast::error::timeout ? "timeout" : ec.message();
  };
  stream_.expires_after(timeout);
  if (!connected_) {
    auto [ec] = co_await stream_.async_connect(target_.endpoint, use_tuple);
    if (ec) {
      fail(ec);
      co_return reply;
    }
    connected_ = true;
    buffer_.clear();
  }
  if (auto [ec, n] = co_await http::async_write(stream_, req, use_tuple); ec) {
    fail(ec);
    co_return reply;
  }
  http::response<http::string_body> res;
  if (auto [ec, n] = co_await http::async_read(stream_, buffer_, res, use_tuple); ec) {
    fail(ec);
    co_return reply;
  }
  stream_.expires_never();
  reply.status = static_cast<int>(res.result_int());
  reply.body = std::move(res.body());
  if (!res.keep_alive()) fail({});
  reply.error.clear();
  co_return reply;
}

}  // namespace parley::bench
