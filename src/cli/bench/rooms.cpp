// rooms: R rooms x M members, and every member sends (the per-user send limit of the server
// applies: members are spread over users, --conns-per-user of them each).
#include "cli/bench/scenarios.h"

namespace parley::bench {

awaitable<ScenarioResult> run_rooms(const BenchOptions& opts, std::vector<Target> targets) {
  return run_room_scenario(opts, std::move(targets), opts.rooms, opts.members, opts.members);
}

}  // namespace parley::bench
