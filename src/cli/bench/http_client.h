#pragma once
// One keep-alive HTTP/1.1 connection to a server, one request at a time: registration and the
// HTTP history API. It reconnects when the server closed the previous connection.
#include <boost/beast/http.hpp>
#include <optional>
#include <string>

#include "cli/bench/net.h"
#include "cli/bench/target.h"

namespace parley::bench {

struct HttpReply {
  int status = 0;  // 0: no answer (see error)
  std::string body;
  std::string error;  // transport failure, e.g. "timeout", "connection refused"
};

class HttpClient {
 public:
  HttpClient(net::any_io_executor ex, Target target);

  /// @p token: sent as a Bearer token when not empty. Never throws.
  awaitable<HttpReply> request(beast::http::verb verb, std::string target, std::string body,
                               std::string token = {},
                               std::chrono::milliseconds timeout = std::chrono::seconds(30));

 private:
  awaitable<HttpReply> attempt(const beast::http::request<beast::http::string_body>& req,
                               std::chrono::milliseconds timeout);

  Target target_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  bool connected_ = false;
};

}  // namespace parley::bench
