#include "cli/bench/target.h"

#include <boost/asio/io_context.hpp>
#include <stdexcept>

namespace parley::bench {

namespace {

Target parse_one(std::string s) {
  for (const char* scheme : {"http://", "ws://"}) {
    if (s.rfind(scheme, 0) == 0) s = s.substr(std::string(scheme).size());
  }
  if (s.rfind("https://", 0) == 0 || s.rfind("wss://", 0) == 0) {
    throw std::invalid_argument("--url " + s + ": TLS is not supported by parley bench");
  }
  s = s.substr(0, s.find('/'));
  auto colon = s.rfind(':');
  Target t;
  t.host = colon == std::string::npos ? s : s.substr(0, colon);
  int port = colon == std::string::npos ? 80 : std::atoi(s.c_str() + colon + 1);
  if (t.host.empty() || port <= 0 || port > 65535) {
    throw std::invalid_argument("--url " + s + ": expected http://HOST:PORT");
  }
  t.port = static_cast<uint16_t>(port);
  return t;
}

}  // namespace

std::vector<Target> parse_targets(const std::vector<std::string>& urls) {
  std::vector<Target> out;
  boost::asio::io_context io;
  boost::asio::ip::tcp::resolver resolver(io);
  for (const auto& item : urls) {
    size_t from = 0;
    while (from <= item.size()) {
      size_t comma = item.find(',', from);
      std::string one =
          item.substr(from, comma == std::string::npos ? std::string::npos : comma - from);
      if (!one.empty()) {
        Target t = parse_one(one);
        auto results = resolver.resolve(t.host, std::to_string(t.port));
        if (results.empty()) throw std::invalid_argument("--url " + one + ": cannot resolve");
        t.endpoint = results.begin()->endpoint();
        out.push_back(std::move(t));
      }
      if (comma == std::string::npos) break;
      from = comma + 1;
    }
  }
  if (out.empty()) throw std::invalid_argument("--url: no server given");
  return out;
}

}  // namespace parley::bench
