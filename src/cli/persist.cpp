#include "cli/persist.h"

#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <thread>

#include "adapters/cluster/persister.h"
#include "adapters/postgres/pg_store.h"
#include "adapters/ws/metrics_server.h"
#include "cli/wiring.h"

namespace parley {

CLI::App* add_persist_command(CLI::App& app, PersistOptions& o) {
  auto* cmd = app.add_subcommand(
      "persist", "Run a persister of a cluster: store the log in PostgreSQL (a consumer group)");
  add_cluster_flags(*cmd, o.cluster);
  cmd->add_option("--max-batch", o.max_batch, "Records per PostgreSQL transaction")
      ->capture_default_str();
  cmd->add_option("--metrics-listen", o.metrics_listen,
                  "HOST:PORT serving GET /metrics (port 0: any free port, printed as `metrics "
                  "http://HOST:PORT` before `ready`); default: none");
  return cmd;
}

int run_persist(const PersistOptions& o) {
  auto [kafka, store] = open_cluster_engines(o.cluster);

  PersisterOptions options;
  options.kafka = kafka;
  options.dedupe_window = o.cluster.dedupe_window;
  options.max_batch = o.max_batch;
  Persister persister(options, store);

  // The persister serves no API: its metrics get a listener of their own, if asked for.
  std::unique_ptr<MetricsServer> metrics;
  if (!o.metrics_listen.empty()) {
    auto [host, port] = split_host_port(o.metrics_listen);
    metrics = std::make_unique<MetricsServer>(host, port);
    std::printf("metrics http://%s:%u/metrics\n", host.c_str(), metrics->port());
    std::fflush(stdout);
  }

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::atomic<bool> stop{false};
  std::thread signals([&] {
    int sig = 0;
    sigwait(&set, &sig);
    spdlog::info("signal {}: stopping the persister", sig);
    stop = true;
  });
  signals.detach();  // the process ends with run(); a signal may never come

  persister.run(stop, [] {
    std::printf("ready\n");
    std::fflush(stdout);
  });
  store->stop();
  spdlog::info("persister stopped after {} messages", persister.persisted());
  return 0;
}

}  // namespace parley
