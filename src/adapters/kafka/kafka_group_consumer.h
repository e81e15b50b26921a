#pragma once
// The persister's consumer: a member of consumer group G on one topic. Kafka hands each
// member its share of the partitions; the owner chooses where each assigned partition starts
// (it keeps the offsets in PostgreSQL, in the same transaction as the data, so the offsets
// committed to Kafka are only a fallback) and commits after its transaction.
//
// Not thread-safe: the owner calls poll() and commit() from one thread, and the rebalance
// callbacks run inside poll() on that thread (librdkafka's model), so an owner never sees a
// revoke in the middle of its own batch.
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "adapters/kafka/consumed.h"
#include "adapters/kafka/kafka_config.h"
#include "domain/result.h"

namespace parley {

struct GroupCallbacks {
  // Partitions newly assigned to this member. Returns the start offset of each; a partition
  // missing from the map starts at the group's committed offset, or (none committed) at
  // auto.offset.reset (default earliest).
  std::function<std::map<int32_t, int64_t>(const std::vector<int32_t>& partitions)> on_assigned;
  // Partitions taken away: the owner drops their state (another member continues them).
  std::function<void(const std::vector<int32_t>& partitions)> on_revoked;
};

class KafkaGroupConsumer {
 public:
  /// Subscribes to @p topic in group @p group. Defaults: session.timeout.ms=6000,
  /// heartbeat.interval.ms=1000, enable.auto.commit=false, auto.offset.reset=earliest,
  /// fetch.wait.max.ms=100; KafkaOptions::overrides win. Throws on a bad property or if the
  /// subscription is refused.
  KafkaGroupConsumer(const KafkaOptions& options, std::string topic, std::string group,
                     GroupCallbacks callbacks);
  ~KafkaGroupConsumer();
  KafkaGroupConsumer(const KafkaGroupConsumer&) = delete;
  KafkaGroupConsumer& operator=(const KafkaGroupConsumer&) = delete;

  /// Waits up to @p timeout_ms for a record, then takes what else is there (up to @p max).
  /// Rebalance callbacks run inside. Records come in offset order within each partition.
  /// A batch never holds a record of a partition revoked during the call: those collected
  /// before the revoke are dropped (the owner dropped their state), and the call returns at
  /// the first rebalance so the owner sees one assignment per batch.
  /// Consumer errors are logged (librdkafka recovers from them by itself).
  std::vector<Consumed> poll(int timeout_ms, size_t max = 1000);

  /// Moves where @p partition is read from (it must be assigned): the records the consumer
  /// fetched ahead of @p offset are discarded. Used by an owner whose state turned out stale.
  Status seek(int32_t partition, int64_t offset);

  /// Commits @p next_offsets (partition -> the next offset to read), synchronously.
  Status commit(const std::map<int32_t, int64_t>& next_offsets);

  /// The high watermark of @p partition from the last fetch response (no request to the
  /// broker); -1 if none is known yet.
  int64_t high_watermark(int32_t partition) const;

  /// The partitions assigned now.
  std::vector<int32_t> assignment() const { return assigned_; }

  /// Leaves the group (its partitions go to the other members at once; on_revoked runs).
  /// Idempotent.
  void close();

 private:
  static void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t* partitions, void* opaque);
  void rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions);

  std::string topic_;
  std::shared_ptr<const RecordMac> mac_;
  GroupCallbacks callbacks_;
  KafkaHandlePtr rk_;
  std::vector<int32_t> assigned_;
  std::vector<Consumed> collecting_;  // the batch poll() is building (a revoke trims it)
  bool rebalanced_ = false;           // a rebalance ran during this poll()
  bool closed_ = false;
};

}  // namespace parley
