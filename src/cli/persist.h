#pragma once
// `parley persist`: the persister role of a cluster (see adapters/cluster/persister.h).
#include "cli/serve.h"

namespace CLI {
class App;
}

namespace parley {

struct PersistOptions {
  ClusterFlags cluster;
  size_t max_batch = 5000;
  std::string metrics_listen;  // HOST:PORT serving GET /metrics; empty: none
};

/// Adds the `persist` subcommand to @p app; @p opts receives its flags.
CLI::App* add_persist_command(CLI::App& app, PersistOptions& opts);
/// Persists until SIGINT/SIGTERM; returns the process exit code.
int run_persist(const PersistOptions& opts);

}  // namespace parley
