#pragma once
// `parley serve`: flags, wiring of ports to adapters, and the serving loop.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "adapters/sqlite/sqlite_storage.h"
#include "adapters/ws/ws_server.h"
#include "app/services.h"
#include "gateway/session_registry.h"

namespace CLI {
class App;
}

namespace parley {

// The cluster's engines: given both, `serve` is a gateway instance of a cluster (Kafka is the log,
// PostgreSQL the history and the accounts) instead of a single node with embedded storage.
struct ClusterFlags {
  std::string kafka;     // bootstrap servers
  std::string postgres;  // libpq conninfo
  std::string topic_prefix;
  std::vector<std::string> kafka_config;  // key=value, passed to librdkafka
  int partitions = 8;                     // of the messages topic, when it is created
  int replication = 0;                    // 0: min(3, brokers)
  int64_t dedupe_window = 100000;         // offsets per partition a client_msg_id is remembered
  std::string cluster_key_file;           // the record key (default: kept in PostgreSQL)
  int log_fetch_wait_ms = 5;              // instances: how long the log's fetches may wait

  bool enabled() const { return !kafka.empty() || !postgres.empty(); }
};

/// Adds --kafka, --postgres, --topic-prefix, --kafka-config... to @p cmd.
void add_cluster_flags(CLI::App& cmd, ClusterFlags& flags);

struct ServeOptions {
  ClusterFlags cluster;
  std::string token_key_file;  // cluster: the shared token key (default: kept in PostgreSQL)
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
  TlsSettings tls;  // https and wss on --listen when given
};

/// Adds the `serve` subcommand to @p app; @p opts receives its flags.
CLI::App* add_serve_command(CLI::App& app, ServeOptions& opts);
/// Runs the server until SIGINT/SIGTERM (SIGHUP reloads the TLS files); returns the process
/// exit code.
int run_serve(const ServeOptions& opts);
/// "HOST:PORT" (HOST may be [v6]); throws std::runtime_error if malformed.
std::pair<std::string, uint16_t> split_host_port(const std::string& listen);

}  // namespace parley
