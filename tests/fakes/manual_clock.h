#pragma once
// Clock whose wall and monotonic times only move when a test says so. Atomic, because the
// SQLite adapter reads it from its own threads.
#include <atomic>
#include <cstdint>

#include "app/ports/clock.h"

namespace parley::fakes {

class ManualClock final : public Clock {
 public:
  static constexpr int64_t kStartNowMs = 1'700'000'000'000;  // 2023-11-14, a plausible unix time
  static constexpr int64_t kStartSteadyMs = 5'000'000;

  explicit ManualClock(int64_t now_ms = kStartNowMs, int64_t steady_ms = kStartSteadyMs)
      : now_(now_ms), steady_(steady_ms) {}

  int64_t now_ms() const override { return now_.load(); }
  int64_t steady_ms() const override { return steady_.load(); }

  void set_now(int64_t ms) { now_.store(ms); }
  void set_steady(int64_t ms) { steady_.store(ms); }
  /// Moves both clocks forward by @p ms.
  void advance(int64_t ms) {
    now_.fetch_add(ms);
    steady_.fetch_add(ms);
  }

 private:
  std::atomic<int64_t> now_;
  std::atomic<int64_t> steady_;
};

}  // namespace parley::fakes
