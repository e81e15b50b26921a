#pragma once
// A blocking read of one partition from offset `from` up to (excluding) `to`: for the join
// replay when the persister lags behind the log. Each read uses a short-lived consumer (no
// group, no commits), so reads never see each other's leftovers; calls may run concurrently.
// Blocking: call it from a thread that may block, never from an event loop.
#include <cstdint>
#include <string>
#include <vector>

#include "adapters/kafka/consumed.h"
#include "adapters/kafka/kafka_config.h"
#include "domain/result.h"

namespace parley {

class KafkaRangeReader {
 public:
  /// Keeps the options and the topic; connects at each read. Defaults: fetch.wait.max.ms=10,
  /// auto.offset.reset=error; KafkaOptions::overrides win. Throws on a bad property.
  KafkaRangeReader(KafkaOptions options, std::string topic);

  /// The records of [from, to) of @p partition, in offset order (offsets the log has no
  /// record for, e.g. transaction markers, are simply absent). Errors: bad_request (from > to),
  /// not_found ("from" is no longer in the log), timeout (not all read within @p timeout_ms),
  /// unavailable (any other consumer error).
  Result<std::vector<Consumed>> read(int32_t partition, int64_t from, int64_t to,
                                     int timeout_ms) const;

 private:
  KafkaOptions options_;
  std::string topic_;
};

}  // namespace parley
