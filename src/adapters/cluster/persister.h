#pragma once
// The persister: a consumer group over the messages topic that folds its share of the
// partitions exactly as every instance does and writes what the fold applied (messages, rooms,
// members) to PostgreSQL, with the log offsets they stand for, in one transaction per batch.
// Kafka's offsets are committed only after that transaction: PostgreSQL's copy is the one a
// new owner of a partition starts from, so a persister killed at any moment loses nothing and
// duplicates nothing (rows are keyed by room+seq and inserted idempotently).
//
// Owners come and go (rebalances, kill -9, a process paused past its session timeout), and two
// may briefly believe they own one partition. The offsets in PostgreSQL are the fence: a batch
// moves a partition's offset only from the position its fold started at (PgStore::persist is a
// compare-and-set), so a stale owner's batch is refused whole, and it reloads the partition
// from PostgreSQL. Only partitions loaded from PostgreSQL are ever folded.
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "adapters/kafka/consumed.h"
#include "adapters/kafka/kafka_config.h"
#include "adapters/postgres/pg_store.h"
#include "app/cluster/log_fold.h"

namespace parley {

struct PersisterOptions {
  KafkaOptions kafka;
  int64_t dedupe_window = 100000;  // must equal the instances' (it shapes the fold)
  size_t max_batch = 5000;         // records per transaction
  int poll_ms = 100;
  int retry_ms = 500;  // between attempts while PostgreSQL refuses a batch
};

class KafkaGroupConsumer;

class Persister {
 public:
  Persister(PersisterOptions options, std::shared_ptr<PgStore> store);

  /// Joins the group and persists until @p stop is set. Calls @p on_ready once it has joined.
  void run(const std::atomic<bool>& stop, const std::function<void()>& on_ready);

  /// Records written so far (messages), for logs and benchmarks.
  uint64_t persisted() const { return persisted_.load(); }
  /// Batches refused because another persister had moved a partition meanwhile.
  uint64_t stale_batches() const { return stale_batches_.load(); }

 private:
  // A traced record of a batch, logged (debug) once the batch is stored.
  struct StoredTrace {
    TraceContext trace;
    Folded::Kind kind;
    std::string room;
    int64_t seq = 0;
    int32_t partition = 0;
    int64_t offset = 0;
  };
  /// Folds @p records into a batch; with @p traced, notes its traced records there.
  PersistBatch fold(const std::vector<Consumed>& records, std::vector<StoredTrace>* traced);
  static void log_stored(const std::vector<StoredTrace>& traced);
  std::map<int32_t, int64_t> assigned(const std::vector<int32_t>& partitions);
  /// Loads @p partitions' state from PostgreSQL into the fold (retrying until it answers or
  /// @p stop); returns where each starts.
  std::map<int32_t, int64_t> load(const std::vector<int32_t>& partitions,
                                  const std::atomic<bool>* stop);
  enum class Stored { yes, stale, stopping };
  /// Stores @p batch, retrying while PostgreSQL fails. `stale`: a partition's offset had moved
  /// (another persister), nothing was stored, the partitions are reloaded and @p consumer seeks
  /// to them. `stopping`: @p stop was set before it was stored.
  Stored store(const PersistBatch& batch, KafkaGroupConsumer& consumer,
               const std::atomic<bool>& stop);

  PersisterOptions options_;
  std::shared_ptr<PgStore> store_;
  LogFold fold_;
  std::atomic<uint64_t> persisted_{0};
  std::atomic<uint64_t> stale_batches_{0};
};

}  // namespace parley
