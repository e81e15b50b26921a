#pragma once
// The server `parley chat --server` names: http://HOST[:PORT] (the HTTP API and /ws live there).
#include <string>
#include <string_view>

#include "domain/result.h"

namespace parley::client {

struct ServerAddress {
  std::string host;
  std::string port;  // "80" when the URL names none
  /// HOST:PORT, for the Host header and the state file's name.
  std::string authority() const { return host + ":" + port; }
};

/// `bad_request` with a message for the user when @p url is not an http:// URL of a server
/// (https and a path prefix are not supported).
Result<ServerAddress> parse_server_url(std::string_view url);

}  // namespace parley::client
