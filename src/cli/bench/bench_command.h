#pragma once
// `parley bench SCENARIO [options]`: the subcommand's flags and its entry point.
#include "cli/bench/bench_options.h"

namespace CLI {
class App;
}

namespace parley::bench {

/// Adds the `bench` subcommand to @p app; @p opts receives its flags.
CLI::App* add_bench_command(CLI::App& app, BenchOptions& opts);
/// Runs the scenario; returns the process exit code (0 ran, 1 --step found no passing rate,
/// 2 could not run).
int run_bench(BenchOptions opts);

}  // namespace parley::bench
