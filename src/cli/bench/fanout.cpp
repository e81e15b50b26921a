// fanout: one room of N members, --senders of them sending: every message is delivered N times.
#include "cli/bench/scenarios.h"

namespace parley::bench {

awaitable<ScenarioResult> run_fanout(const BenchOptions& opts, std::vector<Target> targets) {
  return run_room_scenario(opts, std::move(targets), 1, opts.members, opts.senders);
}

}  // namespace parley::bench
