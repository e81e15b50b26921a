#pragma once
// The open-loop timetable: send k is due at start + k / rate, whatever happened to send k-1.
// Latency is measured from due(k), not from when the generator got round to it, so a stalled
// server (or a stalled generator) shows up as latency instead of as fewer sends: this is what
// keeps coordinated omission out of the figures.
#include <chrono>
#include <cstdint>

namespace parley::bench {

class OpenLoopSchedule {
 public:
  using Clock = std::chrono::steady_clock;

  /// @p rate_per_s > 0; sends are due from @p start until (excluding) @p start + @p duration.
  OpenLoopSchedule(double rate_per_s, Clock::time_point start, Clock::duration duration);

  /// When send @p k (0-based) is due. Computed from k, never accumulated: no drift.
  Clock::time_point due(uint64_t k) const;
  /// How many sends are due at or before @p now (capped at total()).
  uint64_t due_by(Clock::time_point now) const;
  /// How many sends the whole timetable holds.
  uint64_t total() const { return total_; }
  Clock::time_point start() const { return start_; }
  Clock::time_point end() const { return start_ + duration_; }

 private:
  double rate_;
  Clock::time_point start_;
  Clock::duration duration_;
  uint64_t total_;
};

}  // namespace parley::bench
