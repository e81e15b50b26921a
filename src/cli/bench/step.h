#pragma once
// --step: run phases at a rising rate (x --step-factor each) until one fails (< 99.9 %
// delivered, or p99 over --p99-bound-ms); the last good rate is the result.
#include <boost/json/object.hpp>
#include <functional>

#include "cli/bench/bench_options.h"
#include "cli/bench/net.h"
#include "cli/bench/report.h"

namespace parley::bench {

struct StepOutcome {
  boost::json::object json;  // "steps": [...], "last_good_rate": x | null, "passed": bool
  bool passed = false;       // at least one step passed
};

using PhaseRunner = std::function<awaitable<PhaseStats>(double rate)>;

awaitable<StepOutcome> run_steps(const BenchOptions& opts, PhaseRunner phase);

}  // namespace parley::bench
