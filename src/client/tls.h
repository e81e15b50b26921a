#pragma once
// TLS for the client's two connections (the HTTP token request and the WebSocket): one OpenSSL
// client context, TLS 1.2 or newer, that verifies the server's certificate against the system's
// trust store plus an optional --ca-file, and checks that it names the host of the server URL.
// There is no way to turn verification off.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <memory>
#include <optional>
#include <string>

#include "domain/result.h"

namespace parley::client {

using TlsContext = boost::asio::ssl::context;
using TlsStream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

/// The client context; @p ca_file (PEM, may be empty) is trusted besides the system's CAs.
/// `bad_request` naming the file when it cannot be read or holds no certificate.
Result<std::shared_ptr<TlsContext>> make_tls_context(const std::string& ca_file);

struct TlsFailure {
  std::string message;  // one line: which name, and why
  /// The certificate failed verification: a configuration error that no retry fixes (the
  /// server's certificate, or the CA the client is given, must change).
  bool untrusted = false;
};

/// Sets SNI and the name to verify (@p host: a DNS name or an IP address), then handshakes on
/// the connected @p stream. Empty when the server is verified.
boost::asio::awaitable<std::optional<TlsFailure>> tls_handshake(TlsStream& stream,
                                                                const std::string& host);

}  // namespace parley::client
