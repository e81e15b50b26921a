#include "adapters/cluster/fold_driver.h"

#include <spdlog/spdlog.h>

#include "adapters/kafka/record_codec.h"

namespace parley {

FoldStep fold_consumed(LogFold& fold, const Consumed& c) {
  FoldStep step;
  const LogPosition at{c.partition, c.offset, c.timestamp_ms};
  if (c.offset < fold.next_offset(c.partition)) return step;  // already_folded
  // Before its bytes are even parsed. The reader counted and logged it (note_rejected).
  if (!c.authentic) {
    fold.skip(at);
    step.kind = FoldStep::Kind::forged;
    return step;
  }
  auto record = decode_record(c.value);
  if (!record) {
    spdlog::warn("log partition {} offset {}: not a record ({}); skipped", c.partition, c.offset,
                 record.error().message);
    fold.skip(at);
    step.kind = FoldStep::Kind::not_a_record;
    return step;
  }
  auto outcome = fold.apply(at, *record);
  if (!outcome) return step;  // cannot happen after the check above, but apply decides
  step.kind = FoldStep::Kind::folded;
  step.record = std::move(*record);
  step.outcome = std::move(*outcome);
  return step;
}

}  // namespace parley
