#pragma once
// The two wirings of the same core: embedded (SQLite) and cluster (Kafka + PostgreSQL). Each
// fills the driven ports of Services and says how to start and stop what it made.
#include <functional>
#include <string>

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
struct KafkaOptions;
KafkaOptions kafka_options(const ClusterFlags& flags);

}  // namespace parley
