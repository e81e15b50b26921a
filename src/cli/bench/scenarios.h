#pragma once
// The scenarios of `parley bench`, one file each. Each returns the fields of the --json line and
// the process exit code (0: ran; 1: --step found no passing rate; 2: could not run).
#include <boost/json/object.hpp>
#include <vector>

#include "cli/bench/bench_options.h"
#include "cli/bench/net.h"
#include "cli/bench/target.h"

namespace parley::bench {

struct ScenarioResult {
  boost::json::object json;
  int exit_code = 0;
  std::string error;  // why it could not run
};

awaitable<ScenarioResult> run_fanout(const BenchOptions& opts, std::vector<Target> targets);
awaitable<ScenarioResult> run_rooms(const BenchOptions& opts, std::vector<Target> targets);
awaitable<ScenarioResult> run_idle(const BenchOptions& opts, std::vector<Target> targets);
awaitable<ScenarioResult> run_connect_storm(const BenchOptions& opts, std::vector<Target> targets);
awaitable<ScenarioResult> run_history(const BenchOptions& opts, std::vector<Target> targets);

/// fanout and rooms: set up the rooms, warm up, then one phase or --step.
awaitable<ScenarioResult> run_room_scenario(const BenchOptions& opts, std::vector<Target> targets,
                                            int rooms, int members, int senders_per_room);

}  // namespace parley::bench
