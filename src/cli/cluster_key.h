#pragma once
// The cluster's record key (adapters/kafka/record_mac.h), which every role must share: every
// record a role writes to Kafka is signed with it, and a record that does not verify under it
// is dropped. The trust boundary (docs/scaling.md): whoever holds the PostgreSQL credentials is
// trusted (they can write history and accounts anyway); Kafka write access is not.
#include <memory>
#include <string>

#include "adapters/kafka/record_mac.h"
#include "adapters/postgres/pg_store.h"

namespace parley {

/// The key from @p key_file if it is not empty (64 hex digits; every role must be given the
/// same file), else the one in PostgreSQL's settings (`record_key`), which the cluster's first
/// role makes (32 random bytes; insert-if-absent, then read back, so racing roles agree).
/// Either way the first role stores the key's fingerprint (`record_key_id`), and a role whose
/// key has another refuses to start. Throws std::runtime_error (start-up).
std::shared_ptr<const RecordMac> load_cluster_key(const std::string& key_file, PgStore& store);

}  // namespace parley
