#pragma once
// The transport adapter: accepts TCP connections, serves HTTP through the HttpApi and upgrades
// `GET /ws` to WebSocket sessions that talk to the Gateway. The only code that sees Beast.
// With TLS settings it serves https and wss on the same port instead of http and ws.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace parley {

class Gateway;
class HttpApi;
class WorkerPool;

struct TlsSettings {
  std::string cert_file;  // PEM certificate chain, the leaf first
  std::string key_file;   // PEM private key, unencrypted
  // A connection that has not completed its handshake by then is closed.
  int handshake_timeout_ms = 10000;
  // Handshakes in progress at once; a connection past it is closed before any TLS work.
  size_t max_handshakes = 1024;

  bool enabled() const { return !cert_file.empty() || !key_file.empty(); }
};

class WsServer {
 public:
  /// With @p tls enabled, loads its files and throws std::runtime_error saying what is wrong.
  WsServer(Gateway& gateway, HttpApi& api, WorkerPool& pool, const TlsSettings& tls = {});
  ~WsServer();

  /// TLS: reads the certificate and key again for new connections (existing ones keep theirs).
  /// On failure keeps the old ones and logs an error. Thread-safe; a no-op without TLS.
  void reload_tls();

  /// Binds and listens; returns the bound port (useful with port 0). Throws on failure.
  uint16_t listen(const std::string& host, uint16_t port);
  /// Accepts connections until stop(); blocks the calling thread.
  void run();
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace parley
