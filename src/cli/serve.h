#pragma once
// `parley serve`: flags, wiring of ports to adapters, and the serving loop.
#include <cstdint>
#include <string>

#include "adapters/sqlite/sqlite_storage.h"
#include "app/services.h"
#include "gateway/session_registry.h"

namespace CLI {
class App;
}

namespace parley {

struct ServeOptions {
  std::string listen = "127.0.0.1:8080";
  std::string data = "./data";
  std::string instance;
  int threads = 0;  // 0: one per core
  unsigned long long argon2_ops = 2;
  size_t argon2_mem_kib = 19 * 1024;
  std::string sync = "full";
  int64_t token_ttl_s = 24 * 3600;
  Limits limits;
  SessionLimits sessions;
  // Bounds of each of the storage writer's and reader's queues: the adapter's defaults.
  size_t storage_queue_jobs = SqliteOptions{}.write_queue_max_jobs;
  size_t storage_queue_bytes = SqliteOptions{}.write_queue_max_bytes;
};

/// Adds the `serve` subcommand to @p app; @p opts receives its flags.
CLI::App* add_serve_command(CLI::App& app, ServeOptions& opts);
/// Runs the server until SIGINT/SIGTERM; returns the process exit code.
int run_serve(const ServeOptions& opts);

}  // namespace parley
