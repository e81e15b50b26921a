#pragma once
// The server's TLS identity: an OpenSSL context made from a certificate chain and its private
// key. A reload builds a whole new context and swaps it in; connections already made keep the
// one they started with (each SSL object holds a reference to its SSL_CTX), new connections
// get the new one. A reload that fails changes nothing.
#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <mutex>
#include <string>

namespace parley {

class TlsContext {
 public:
  using ContextPtr = std::shared_ptr<boost::asio::ssl::context>;

  /// Loads @p cert_file (PEM, the leaf first, then any intermediates) and @p key_file (PEM,
  /// unencrypted). Throws std::runtime_error naming the file and what is wrong with it.
  TlsContext(std::string cert_file, std::string key_file);

  /// The context a new connection is made with.
  ContextPtr current() const;

  /// Reads both files again. On success new connections use them and the result is empty; on
  /// failure the old context stays and the result says why.
  std::string reload();

  /// What is loaded, for the logs: subject, expiry and SHA-256 fingerprint of the leaf.
  std::string describe() const;

 private:
  const std::string cert_file_;
  const std::string key_file_;
  mutable std::mutex mutex_;  // guards the two below; taken once per accepted connection
  ContextPtr context_;
  std::string description_;
};

}  // namespace parley
