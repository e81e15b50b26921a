#pragma once
// The two wirings of the same core: embedded (SQLite) and cluster (Kafka + PostgreSQL). Each
// fills the driven ports of Services and says how to start and stop what it made.
#include <functional>
#include <memory>
#include <string>

#include "adapters/kafka/kafka_config.h"
#include "adapters/postgres/pg_store.h"
#include "app/services.h"
#include "cli/serve.h"

namespace parley {

struct Wiring {
  std::function<void()> start;  // once the gateway has registered its sinks
  std::function<void()> stop;
  std::string description;  // for the start-up log line
};

Wiring wire_embedded(const ServeOptions& o, Services& services);
Wiring wire_cluster(const ServeOptions& o, Services& services, const std::string& instance);

/// The librdkafka options of @p flags (throws on a malformed --kafka-config).
KafkaOptions kafka_options(const ClusterFlags& flags);

/// What every cluster role starts from: the Kafka options with the topics made sure of, and the
/// PostgreSQL store, migrated. Throws if either is missing or unreachable (start-up).
struct ClusterEngines {
  KafkaOptions kafka;
  std::shared_ptr<PgStore> store;
};
ClusterEngines open_cluster_engines(const ClusterFlags& flags);

}  // namespace parley
