#pragma once
// Gets a token over the HTTP API: POST /api/register or /api/login (PROTOCOL.md, ## HTTP).
// Blocking, with a deadline: it runs before the terminal starts, and again only when the
// server refuses the WebSocket with 401 (an expired token).
#include <chrono>
#include <string>

#include "client/server_address.h"
#include "client/tls.h"
#include "domain/result.h"

namespace parley::client {

/// The token, or the server's error (code and message from its JSON body; `unavailable` when
/// the server cannot be reached within @p timeout; `bad_request` when its TLS certificate is not
/// trusted). @p tls: the context for an https:// server (must be set then), else unused.
Result<std::string> fetch_token(const ServerAddress& server, TlsContext* tls, bool register_user,
                                const std::string& user, const std::string& password,
                                std::chrono::seconds timeout = std::chrono::seconds(30));

}  // namespace parley::client
