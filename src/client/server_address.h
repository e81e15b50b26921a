#pragma once
// The server `parley chat --server` names: http://HOST[:PORT] or https://HOST[:PORT] (the HTTP
// API and /ws live there; over https the WebSocket is wss).
#include <string>
#include <string_view>

#include "domain/result.h"

namespace parley::client {

struct ServerAddress {
  std::string host;
  std::string port;  // "80" (http) or "443" (https) when the URL names none
  bool tls = false;  // https://: TLS for the token request and the WebSocket
  /// HOST:PORT, for the Host header and the state file's name.
  std::string authority() const { return host + ":" + port; }
};

/// `bad_request` with a message for the user when @p url is not an http:// or https:// URL of a
/// server (a path prefix is not supported).
Result<ServerAddress> parse_server_url(std::string_view url);

}  // namespace parley::client
