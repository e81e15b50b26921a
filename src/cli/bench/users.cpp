#include "cli/bench/users.h"

#include <boost/json.hpp>
#include <memory>
#include <random>

#include "cli/bench/http_client.h"

namespace parley::bench {

std::string fresh_prefix() {
  static const char* const kAlphabet = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::random_device rd;
  std::string p = "b";
  for (int i = 0; i < 6; ++i) p += kAlphabet[rd() % 36];
  return p;
}

awaitable<Users> register_users(const BenchOptions& opts, const Target& target, int count,
                                std::string& error) {
  auto ex = co_await net::this_coro::executor;
  Users users;
  users.names.resize(static_cast<size_t>(count));
  users.tokens.resize(static_cast<size_t>(count));
  int next = 0;
  int running = 0;
  auto worker = [&]() -> awaitable<void> {
    HttpClient http(ex, target);
    while (next < count && error.empty()) {
      int i = next++;
      std::string name = opts.user_prefix + "u" + std::to_string(i);
      boost::json::object body{{"user", name}, {"password", opts.password}};
      auto reply = co_await http.request(beast::http::verb::post, "/api/register",
                                         boost::json::serialize(body));
      if (reply.status != 201) {
        error = "registering " + name + " on " + target.url() + ": " +
                (reply.status ? "HTTP " + std::to_string(reply.status) + " " + reply.body
                              : reply.error);
        break;
      }
      boost::system::error_code ec;
      auto doc = boost::json::parse(reply.body, ec);
      const auto* token = ec || !doc.is_object() ? nullptr : doc.as_object().if_contains("token");
      if (!token || !token->is_string()) {
        error = "registering " + name + ": no token in " + reply.body;
        break;
      }
      users.names[static_cast<size_t>(i)] = name;
      users.tokens[static_cast<size_t>(i)] = std::string(token->as_string());
    }
    --running;
  };
  int workers = std::max(1, std::min(opts.register_concurrency, count));
  for (int w = 0; w < workers; ++w) {
    ++running;
    net::co_spawn(ex, worker(), net::detached);
  }
  co_await wait_until([&] { return running == 0; }, SteadyClock::time_point::max());
  if (!error.empty()) co_return Users{};
  co_return users;
}

}  // namespace parley::bench
