#include "client/http_auth.h"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <optional>

namespace parley::client {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

Errc errc_for_status(unsigned status) {
  for (auto e : {Errc::bad_request, Errc::unauthenticated, Errc::forbidden, Errc::not_found,
                 Errc::conflict, Errc::too_large, Errc::rate_limited, Errc::unavailable}) {
    if (static_cast<unsigned>(http_status(e)) == status) return e;
  }
  return Errc::internal;
}

asio::awaitable<Result<std::string>> exchange(ServerAddress server, TlsContext* tls,
                                              std::string path, std::string body,
                                              std::chrono::seconds timeout);

// co_spawn wants a default-constructible value: the result goes through @p out instead.
asio::awaitable<void> run_exchange(ServerAddress server, TlsContext* tls, std::string path,
                                   std::string body, std::chrono::seconds timeout,
                                   std::optional<Result<std::string>>* out) {
  out->emplace(
      co_await exchange(std::move(server), tls, std::move(path), std::move(body), timeout));
}

// One request and its answer on @p stream (a tcp_stream, or TLS over one).
template <class Stream>
asio::awaitable<Result<http::response<http::string_body>>> round_trip(Stream& stream,
                                                                      const ServerAddress& server,
                                                                      std::string path,
                                                                      std::string body) {
  http::request<http::string_body> req{http::verb::post, path, 11};
  req.set(http::field::host, server.authority());
  req.set(http::field::content_type, "application/json");
  req.set(http::field::user_agent, "parley-chat");
  req.body() = std::move(body);
  req.prepare_payload();
  auto [wec, wn] = co_await http::async_write(stream, req, kTuple);
  if (wec) co_return make_error(Errc::unavailable, "cannot send the request: " + wec.message());
  beast::flat_buffer buf;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024);  // a token answer is a few hundred bytes
  auto [hec, hn] = co_await http::async_read(stream, buf, parser, kTuple);
  if (hec) co_return make_error(Errc::unavailable, "no answer from the server: " + hec.message());
  co_return parser.release();
}

asio::awaitable<Result<std::string>> exchange(ServerAddress server, TlsContext* tls,
                                              std::string path, std::string body,
                                              std::chrono::seconds timeout) {
  auto ex = co_await asio::this_coro::executor;
  tcp::resolver resolver(ex);
  auto [rec, endpoints] = co_await resolver.async_resolve(server.host, server.port, kTuple);
  if (rec)
    co_return make_error(Errc::unavailable, "cannot resolve " + server.host + ": " + rec.message());
  beast::tcp_stream stream(ex);
  stream.expires_after(timeout);
  auto [cec, ep] = co_await stream.async_connect(endpoints, kTuple);
  if (cec) {
    co_return make_error(Errc::unavailable,
                         "cannot connect to " + server.authority() + ": " + cec.message());
  }
  Result<http::response<http::string_body>> answer =
      make_error(Errc::internal, "no TLS context for an https server");
  if (!server.tls) {
    answer = co_await round_trip(stream, server, std::move(path), std::move(body));
  } else if (tls != nullptr) {
    TlsStream tls_stream(std::move(stream), *tls);
    beast::get_lowest_layer(tls_stream).expires_after(timeout);  // the handshake is bounded too
    if (auto failed = co_await tls_handshake(tls_stream, server.host)) {
      co_return make_error(failed->untrusted ? Errc::bad_request : Errc::unavailable,
                           failed->message);
    }
    answer = co_await round_trip(tls_stream, server, std::move(path), std::move(body));
  }
  if (!answer) co_return answer.error();
  const auto& res = answer.value();

  boost::system::error_code jec;
  const auto v = json::parse(res.body(), jec);
  const json::object* o = (!jec && v.is_object()) ? &v.get_object() : nullptr;
  if (res.result_int() == 200 || res.result_int() == 201) {
    const auto* t = o != nullptr ? o->if_contains("token") : nullptr;
    if (t == nullptr || !t->is_string() || t->get_string().empty()) {
      co_return make_error(Errc::internal, "the server's answer has no token");
    }
    co_return std::string(t->get_string());
  }
  std::string message = "HTTP " + std::to_string(res.result_int());
  if (o != nullptr) {
    if (const auto* e = o->if_contains("error"); e != nullptr && e->is_object()) {
      if (const auto* m = e->get_object().if_contains("message"); m != nullptr && m->is_string()) {
        message = std::string(m->get_string());
      }
    }
  } else if (const auto line = res.body().substr(0, res.body().find('\n'));
             !line.empty() && line.size() <= 200 &&
             std::all_of(line.begin(), line.end(), [](char c) { return c >= 0x20 && c < 0x7f; })) {
    // Not the API's JSON: a plain answer, such as a TLS port's to an http:// URL ("This port
    // speaks TLS: use https://..."), is shown as it is.
    message += ": " + line;
  }
  co_return make_error(errc_for_status(res.result_int()), message);
}

}  // namespace

Result<std::string> fetch_token(const ServerAddress& server, TlsContext* tls, bool register_user,
                                const std::string& user, const std::string& password,
                                std::chrono::seconds timeout) {
  asio::io_context io;
  const std::string body = json::serialize(json::object{{"user", user}, {"password", password}});
  std::optional<Result<std::string>> out;
  asio::co_spawn(io,
                 run_exchange(server, tls, register_user ? "/api/register" : "/api/login", body,
                              timeout, &out),
                 [&](std::exception_ptr e) {
                   if (e) out.emplace(make_error(Errc::internal, "the token request failed"));
                 });
  io.run();
  if (!out) return make_error(Errc::internal, "the token request did not finish");
  return std::move(*out);
}

}  // namespace parley::client
