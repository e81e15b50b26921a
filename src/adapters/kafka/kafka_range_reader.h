#pragma once
// Blocking reads of one partition by offset: the history and the join replay past what the
// persister stored. A read takes an idle consumer (no group, no commits) from a small pool, or
// makes one, assigns the partition at the offset it needs, reads only up to what it was asked
// for, then unassigns it (so it stops fetching) and gives it back: pages reuse connections, and
// a read never sees another's leftovers. Calls may run concurrently (each has its consumer).
// Blocking: call it from a thread that may block, never from an event loop.
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "adapters/kafka/consumed.h"
#include "adapters/kafka/kafka_config.h"
#include "domain/result.h"

namespace parley {

class KafkaRangeReader {
 public:
  /// Keeps the options and the topic; connects at the first read. Defaults:
  /// fetch.wait.max.ms=10, auto.offset.reset=error, a 4 MB prefetch bound;
  /// KafkaOptions::overrides win. Throws on a bad property.
  KafkaRangeReader(KafkaOptions options, std::string topic, size_t max_idle = 4);
  ~KafkaRangeReader();
  KafkaRangeReader(const KafkaRangeReader&) = delete;
  KafkaRangeReader& operator=(const KafkaRangeReader&) = delete;

  /// The records of [from, to) of @p partition, in offset order (offsets the log has no
  /// record for, e.g. transaction markers, are simply absent). Errors: bad_request (from > to),
  /// not_found ("from" is no longer in the log), timeout (not all read within @p timeout_ms),
  /// unavailable (any other consumer error).
  Result<std::vector<Consumed>> read(int32_t partition, int64_t from, int64_t to,
                                     int timeout_ms) const;

  /// The records at @p offsets (ascending, distinct) of @p partition, in that order. Runs of
  /// nearby offsets are read in one pass; the reader seeks over a gap wider than @p max_gap,
  /// so a sparse room in a busy partition costs a fetch per run, not the records between.
  /// An offset the log has no record for is absent from the result. Errors as read().
  Result<std::vector<Consumed>> read_offsets(int32_t partition, const std::vector<int64_t>& offsets,
                                             int timeout_ms, int64_t max_gap = 2000) const;

  /// Consumers made so far (a pool reuses them: a test reads it).
  size_t consumers_made() const;

 private:
  KafkaHandlePtr acquire() const;
  void release(KafkaHandlePtr rk) const;

  KafkaOptions options_;
  std::string topic_;
  size_t max_idle_;
  mutable std::mutex mu_;
  mutable std::vector<KafkaHandlePtr> idle_;
  mutable size_t made_ = 0;
};

}  // namespace parley
