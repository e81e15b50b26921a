#include "cli/serve.h"

#include <sched.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "adapters/crypto/argon2_password_hasher.h"
#include "adapters/ws/ws_server.h"
#include "cli/system_clock.h"
#include "cli/wiring.h"
#include "gateway/gateway.h"
#include "gateway/http_api.h"
#include "runtime/thread_pool_executor.h"
#include "runtime/worker_pool.h"

namespace parley {

CLI::App* add_serve_command(CLI::App& app, ServeOptions& o) {
  auto* cmd =
      app.add_subcommand("serve",
                         "Run a chat server: a single node with embedded SQLite storage, or with "
                         "--kafka and --postgres a gateway instance of a cluster");
  cmd->add_option("--listen", o.listen, "HOST:PORT to listen on (port 0: any free port)")
      ->capture_default_str();
  cmd->add_option("--data", o.data, "Data directory (database, token key)")->capture_default_str();
  add_cluster_flags(*cmd, o.cluster);
  cmd->add_option("--token-key-file", o.token_key_file,
                  "Cluster: the token signing key shared by every instance (default: kept in "
                  "PostgreSQL)");
  cmd->add_option("--instance", o.instance, "Name of this instance (default: host name)");
  cmd->add_option("--threads", o.threads, "Worker threads (0: one per CPU this process may run on)")
      ->capture_default_str();
  cmd->add_option("--max-frame-bytes", o.limits.max_frame_bytes, "Largest WebSocket message")
      ->capture_default_str();
  cmd->add_option("--max-text-bytes", o.limits.max_text_bytes, "Largest message text (UTF-8 bytes)")
      ->capture_default_str();
  cmd->add_option("--send-queue-bytes", o.limits.send_queue_bytes,
                  "Per-connection send queue; a client over it is closed with 1008")
      ->capture_default_str();
  cmd->add_option("--rate-per-sec", o.limits.sends_per_second, "Sends per user per second")
      ->capture_default_str();
  cmd->add_option("--rate-burst", o.limits.send_burst, "Burst of sends per user")
      ->capture_default_str();
  cmd->add_option("--command-rate-per-sec", o.limits.commands_per_second,
                  "Commands per connection per second (any op)")
      ->capture_default_str();
  cmd->add_option("--command-burst", o.limits.command_burst, "Burst of commands per connection")
      ->capture_default_str();
  cmd->add_option("--max-inflight", o.limits.max_inflight,
                  "Commands of one connection awaiting their results")
      ->capture_default_str();
  cmd->add_option("--max-inflight-bytes", o.limits.max_inflight_bytes,
                  "Bytes of the commands of one connection awaiting their results")
      ->capture_default_str();
  cmd->add_option("--room-create-per-sec", o.limits.room_creates_per_second,
                  "Rooms one user may create per second")
      ->capture_default_str();
  cmd->add_option("--room-create-burst", o.limits.room_create_burst,
                  "Burst of rooms one user may create")
      ->capture_default_str();
  cmd->add_option("--max-connections-per-user", o.limits.max_connections_per_user,
                  "Open WebSocket connections of one user (HTTP 429 beyond)")
      ->capture_default_str();
  cmd->add_option("--max-connections", o.limits.max_connections,
                  "Open WebSocket connections in all (HTTP 503 beyond)")
      ->capture_default_str();
  cmd->add_option("--max-connects-per-sec", o.limits.connects_per_second,
                  "WebSocket upgrades per second, checked before authentication (HTTP 503 with "
                  "Retry-After beyond; burst: one second's worth; 0: no limit)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--session-pending-bytes", o.sessions.max_pending_bytes_per_session,
                  "Bytes of results kept for one disconnected session")
      ->capture_default_str();
  cmd->add_option("--sessions-pending-bytes", o.sessions.max_pending_bytes_total,
                  "Bytes of results kept for all disconnected sessions")
      ->capture_default_str();
  cmd->add_option("--user-pending-bytes", o.sessions.max_pending_bytes_per_user,
                  "Bytes of results kept for the disconnected sessions of one user")
      ->capture_default_str();
  cmd->add_option("--session-keep-ms", o.sessions.keep_ms,
                  "How long results wait for a disconnected session, ms")
      ->capture_default_str();
  cmd->add_option("--storage-queue-jobs", o.storage_queue_jobs,
                  "Jobs waiting for the storage writer, and for the reader (unavailable beyond)")
      ->capture_default_str();
  cmd->add_option("--storage-queue-bytes", o.storage_queue_bytes,
                  "Bytes of the jobs waiting for the storage writer, and for the reader")
      ->capture_default_str();
  cmd->add_option("--token-ttl-s", o.token_ttl_s, "Lifetime of issued tokens, seconds")
      ->capture_default_str();
  cmd->add_option("--argon2-ops", o.argon2_ops, "argon2id passes")->capture_default_str();
  cmd->add_option("--argon2-mem-kib", o.argon2_mem_kib, "argon2id memory, KiB")
      ->capture_default_str();
  auto* tls_cert = cmd->add_option(
      "--tls-cert", o.tls.cert_file,
      "Serve https and wss: PEM certificate chain, leaf first (with --tls-key; SIGHUP "
      "reloads both)");
  auto* tls_key =
      cmd->add_option("--tls-key", o.tls.key_file, "PEM private key of --tls-cert, unencrypted");
  tls_cert->needs(tls_key);
  tls_key->needs(tls_cert);
  cmd->add_option("--tls-handshake-timeout-ms", o.tls.handshake_timeout_ms,
                  "TLS: a connection not through its handshake by then is closed")
      ->check(CLI::Range(1, 600000))
      ->capture_default_str();
  cmd->add_option("--tls-max-handshakes", o.tls.max_handshakes,
                  "TLS: handshakes in progress at once; past it a new connection is closed")
      ->check(CLI::Range(size_t{1}, size_t{1} << 30))
      ->capture_default_str();
  cmd->add_option("--sync", o.sync, "SQLite durability: full (fsync per commit) or normal")
      ->check(CLI::IsMember({"full", "normal"}))
      ->capture_default_str();
  // A flag given twice takes its last value, so wrappers can append overrides.
  for (CLI::Option* opt : cmd->get_options()) {
    if (opt->get_name() != "--help" && opt->get_name() != "--kafka-config") {
      opt->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    }
  }
  return cmd;
}

void add_cluster_flags(CLI::App& cmd, ClusterFlags& f) {
  cmd.add_option("--kafka", f.kafka, "Cluster: Kafka bootstrap servers (host:port,...)");
  cmd.add_option("--postgres", f.postgres, "Cluster: PostgreSQL conninfo");
  cmd.add_option("--topic-prefix", f.topic_prefix,
                 "Cluster: prefix of every topic (deployments sharing one Kafka)");
  cmd.add_option("--kafka-config", f.kafka_config,
                 "Cluster: a librdkafka property key=value (repeatable; producer./consumer./admin. "
                 "prefixes apply to one kind of client)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd.add_option("--kafka-partitions", f.partitions,
                 "Cluster: partitions of the messages topic, if it is created")
      ->capture_default_str();
  cmd.add_option("--kafka-replication", f.replication,
                 "Cluster: replication factor of created topics (0: min(3, brokers))")
      ->capture_default_str();
  cmd.add_option("--dedupe-window", f.dedupe_window,
                 "Cluster: offsets per partition within which a client_msg_id is remembered")
      ->capture_default_str();
  cmd.add_option("--log-fetch-wait-ms", f.log_fetch_wait_ms,
                 "Cluster instances: how long the broker may hold the log's fetches to batch "
                 "records (adds up to this to a message's way across instances)")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  cmd.add_option("--cluster-key-file", f.cluster_key_file,
                 "Cluster: the key that signs every Kafka record (64 hex digits), the same file "
                 "for every role (default: one kept in PostgreSQL)");
}

std::pair<std::string, uint16_t> split_host_port(const std::string& listen) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos) throw std::runtime_error(listen + ": expected HOST:PORT");
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  int port = std::stoi(listen.substr(colon + 1));
  if (port < 0 || port > 65535) throw std::runtime_error(listen + ": port out of range");
  return {host, static_cast<uint16_t>(port)};
}

namespace {

// Every connection is a descriptor, and the usual soft limit (1024) is far below what one
// instance serves: take all the hard limit allows. Past it, the acceptor backs off.
void raise_fd_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur >= lim.rlim_max) return;
  rlim_t before = lim.rlim_cur;
  lim.rlim_cur = lim.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &lim) != 0) {
    spdlog::warn("could not raise the open files limit from {}", before);
    return;
  }
  spdlog::info("open files limit raised from {} to {}", before, lim.rlim_cur);
}

// The CPUs this process may run on (taskset, cgroup cpusets), not the machine's: a server pinned to
// one CPU that ran a worker per core would have its workers take turns on that CPU.
int usable_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

std::string default_instance() {
  char name[256] = {};
  gethostname(name, sizeof name - 1);
  return std::string(name) + "-" + std::to_string(getpid());
}

}  // namespace

int run_serve(const ServeOptions& o) {
  // SIGHUP is taken by the signal thread (below) with sigwait: it must be blocked in every
  // thread, so before any is started (its default action would end the process).
  sigset_t hup;
  sigemptyset(&hup);
  sigaddset(&hup, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &hup, nullptr);
  raise_fd_limit();
  auto [host, port] = split_host_port(o.listen);
  int threads = o.threads > 0 ? o.threads : usable_cpus();
  std::string instance = o.instance.empty() ? default_instance() : o.instance;

  Limits limits = o.limits;
  limits.token_ttl_ms = o.token_ttl_s * 1000;
  Services services(limits);
  services.clock = std::make_shared<SystemClock>();
  services.hasher = std::make_shared<Argon2PasswordHasher>(o.argon2_ops, o.argon2_mem_kib);
  auto blocking = std::make_shared<ThreadPoolExecutor>(2);
  services.blocking = blocking;
  Wiring storage =
      o.cluster.enabled() ? wire_cluster(o, services, instance) : wire_embedded(o, services);

  WorkerPool pool(threads);
  Gateway gateway(services, pool, instance, o.sessions);
  HttpApi api(services);
  WsServer server(gateway, api, pool, o.tls);
  gateway.start();
  storage.start();
  pool.start();
  uint16_t bound = server.listen(host, port);

  // SIGINT and SIGTERM end the accept loop; everything else is then wound down in order.
  // SIGHUP reloads the TLS certificate and key.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread signals([&] {
    int sig = 0;
    while (sigwait(&set, &sig) == 0 && sig == SIGHUP) server.reload_tls();
    spdlog::info("signal {}: shutting down", sig);
    server.stop();
  });

  spdlog::info("parley {} serving on {}:{} with {} workers, {}", gateway.instance(), host, bound,
               threads, storage.description);
  std::printf("ready %s://%s:%u\n", o.tls.enabled() ? "https" : "http", host.c_str(), bound);
  std::fflush(stdout);
  server.run();

  signals.join();
  // Say goodbye (1001) to every client, give the close frames a moment, then stop.
  gateway.shutdown();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  pool.stop();
  blocking->stop();
  storage.stop();
  spdlog::info("stopped");
  return 0;
}

}  // namespace parley
