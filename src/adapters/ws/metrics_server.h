#pragma once
// A minimal HTTP listener for the processes that serve no API (the persister): GET /metrics
// answers metrics_text(), anything else 404. One thread, one connection at a time: a scraper
// every few seconds is all it is for.
#include <cstdint>
#include <memory>
#include <string>

namespace parley {

class MetricsServer {
 public:
  /// Binds @p host:@p port (port 0: any free port) and serves on a thread of its own until
  /// destroyed. Throws on failure to bind.
  MetricsServer(const std::string& host, uint16_t port);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  uint16_t port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace parley
