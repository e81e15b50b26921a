#include "cli/bench/step.h"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>

namespace parley::bench {

awaitable<StepOutcome> run_steps(const BenchOptions& opts, PhaseRunner phase) {
  StepOutcome out;
  boost::json::array steps;
  double rate = opts.rate;
  double last_good = 0;
  for (int i = 0; i < opts.max_steps; ++i) {
    PhaseStats s = co_await phase(rate);
    bool ok = s.passes(opts.p99_bound_ms);
    spdlog::info("step {}: {} -> {}", i + 1, phase_line(s), ok ? "pass" : "FAIL");
    auto j = phase_json(s);
    j["passed"] = ok;
    steps.push_back(std::move(j));
    if (!ok) break;
    last_good = rate;
    rate *= opts.step_factor;
  }
  out.passed = last_good > 0;
  out.json["steps"] = std::move(steps);
  out.json["p99_bound_ms"] = opts.p99_bound_ms;
  if (out.passed) {
    out.json["last_good_rate"] = last_good;
  } else {
    out.json["last_good_rate"] = nullptr;
  }
  out.json["passed"] = out.passed;
  co_return out;
}

}  // namespace parley::bench
