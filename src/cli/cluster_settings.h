#pragma once
// What every role of a cluster must agree on, checked once at start. Instances and persisters
// fold the same log and must reach the same decisions: the same dedupe window (it decides what
// a repeated client_msg_id is), the same partitions (a room's partition is hash % count), a
// messages topic stamped by the brokers (the ttl rule compares LogAppendTime), and a producer
// that waits for every in-sync replica (acks=all: an acknowledged message survives a broker).
// The first role to start stores the settings in PostgreSQL; any later role whose own differ
// refuses to start, naming both values, instead of silently deciding otherwise.
#include <cstdint>

#include "adapters/kafka/kafka_config.h"
#include "adapters/postgres/pg_store.h"

namespace parley {

/// Throws std::runtime_error (start-up) if @p kafka's overrides weaken the producer (acks other
/// than all, idempotence off), if the messages topic is not LogAppendTime, or if the settings
/// stored by the cluster's first role differ from this role's.
void check_cluster_settings(const KafkaOptions& kafka, PgStore& store, int64_t dedupe_window);

}  // namespace parley
