#pragma once
// The transport adapter: accepts TCP connections, serves HTTP through the HttpApi and upgrades
// `GET /ws` to WebSocket sessions that talk to the Gateway. The only code that sees Beast.
#include <cstdint>
#include <memory>
#include <string>

namespace parley {

class Gateway;
class HttpApi;
class WorkerPool;

class WsServer {
 public:
  WsServer(Gateway& gateway, HttpApi& api, WorkerPool& pool);
  ~WsServer();

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
