#pragma once
// Time, injected: the core never reads a clock of its own, so tests can drive it.
#include <cstdint>
#include <memory>

namespace parley {

class Clock {
 public:
  virtual ~Clock() = default;
  /// @return wall-clock unix time in milliseconds (message timestamps, token expiry).
  virtual int64_t now_ms() const = 0;
  /// @return a monotonic time in milliseconds (deadlines, rate limits).
  virtual int64_t steady_ms() const = 0;
};

using ClockPtr = std::shared_ptr<Clock>;

}  // namespace parley
