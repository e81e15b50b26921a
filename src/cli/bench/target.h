#pragma once
// Where the load goes: the server URLs given with --url, parsed once and resolved once.
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <string>
#include <vector>

namespace parley::bench {

struct Target {
  std::string host;  // as given, for the Host header
  uint16_t port = 0;
  boost::asio::ip::tcp::endpoint endpoint;
  std::string url() const { return "http://" + host + ":" + std::to_string(port); }
};

/// Parses "http://h:p", "ws://h:p", "h:p" (a path after the port is ignored), each item of each
/// --url possibly a comma list, and resolves them. Throws std::invalid_argument at start-up.
std::vector<Target> parse_targets(const std::vector<std::string>& urls);

}  // namespace parley::bench
