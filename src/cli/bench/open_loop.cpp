#include "cli/bench/open_loop.h"

#include <algorithm>
#include <cmath>

namespace parley::bench {

namespace {
double seconds(OpenLoopSchedule::Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}
}  // namespace

OpenLoopSchedule::OpenLoopSchedule(double rate_per_s, Clock::time_point start,
                                   Clock::duration duration)
    : rate_(rate_per_s), start_(start), duration_(duration) {
  // Sends k with k / rate < duration: ceil(duration * rate).
  total_ = static_cast<uint64_t>(std::ceil(seconds(duration_) * rate_ - 1e-9));
}

OpenLoopSchedule::Clock::time_point OpenLoopSchedule::due(uint64_t k) const {
  auto ns = static_cast<int64_t>(std::llround(static_cast<long double>(k) * 1e9L / rate_));
  return start_ + std::chrono::nanoseconds(ns);
}

uint64_t OpenLoopSchedule::due_by(Clock::time_point now) const {
  if (now < start_) return 0;
  auto n = static_cast<uint64_t>(std::floor(seconds(now - start_) * rate_)) + 1;
  // Floating point may put the boundary one off: settle it with due(), which is exact.
  while (n > 0 && due(n - 1) > now) --n;
  while (n < total_ && due(n) <= now) ++n;
  return std::min(n, total_);
}

}  // namespace parley::bench
