// fanout and rooms share this driver: set up, warm up, then one phase or --step.
#include <spdlog/spdlog.h>

#include "cli/bench/room_load.h"
#include "cli/bench/scenarios.h"
#include "cli/bench/step.h"

namespace parley::bench {

awaitable<ScenarioResult> run_room_scenario(const BenchOptions& opts, std::vector<Target> targets,
                                            int rooms, int members, int senders_per_room) {
  ScenarioResult result;
  RoomLoad load(opts, std::move(targets), rooms, members, senders_per_room);
  spdlog::info("{}: {} rooms x {} members ({} sending per room), setting up", opts.scenario, rooms,
               members, std::min(senders_per_room, members));
  if (!co_await load.setup(result.error)) {
    co_await load.close();
    result.exit_code = 2;
    co_return result;
  }
  result.json["rooms"] = rooms;
  result.json["members"] = members;
  result.json["senders"] = static_cast<uint64_t>(std::min(senders_per_room, members)) * rooms;
  result.json["connections"] = load.connections();
  result.json["users"] = load.users();
  result.json["size"] = opts.size;
  if (opts.warmup_s > 0) {
    PhaseStats warm = co_await load.run_phase(opts.rate, opts.warmup_s);
    spdlog::info("warm-up: {}", phase_line(warm));
  }
  if (opts.step) {
    auto outcome = co_await run_steps(
        opts, [&](double rate) { return load.run_phase(rate, opts.duration_s); });
    for (auto& [k, v] : outcome.json) result.json[k] = v;
    result.exit_code = outcome.passed ? 0 : 1;
  } else {
    PhaseStats s = co_await load.run_phase(opts.rate, opts.duration_s);
    spdlog::info("{}", phase_line(s));
    for (auto& [k, v] : phase_json(s)) result.json[k] = v;
  }
  co_await load.close();
  co_return result;
}

}  // namespace parley::bench
