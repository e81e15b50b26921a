#pragma once
// One record of the log through the fold, taken the same way by every folder: the gateways'
// tails and the persisters. A record folded twice, a record without a valid MAC, or bytes
// that are not a record, are handled here once, so the two kinds of folder cannot diverge on
// them (a persister that skipped a bad record while a gateway stopped on it would store other
// seqs than it serves).
#include <optional>

#include "adapters/kafka/consumed.h"
#include "app/cluster/log_fold.h"
#include "app/cluster/log_record.h"

namespace parley {

struct FoldStep {
  enum class Kind {
    already_folded,  // below the fold's position (a replay after a seek or a reload)
    forged,          // no valid MAC (not written by the cluster): skipped, as not_a_record
    not_a_record,    // undecodable: the position moves past it, nothing is applied
    folded,          // `record` and `outcome` hold what the fold made of it
  };
  Kind kind = Kind::already_folded;
  std::optional<LogRecord> record;
  Folded outcome;
};

/// Folds @p consumed into @p fold (the partition must be one @p fold owns).
FoldStep fold_consumed(LogFold& fold, const Consumed& consumed);

}  // namespace parley
