#pragma once
// The fate of a command with a time-to-live, decided exactly once: either the stage that
// applies it claims it first (it will complete, even a little late), or the timer expires it
// first (the client gets `timeout` and the command is never applied). One atomic makes the two
// outcomes exclusive across threads.
#include <atomic>
#include <cstdint>
#include <memory>

#include "domain/result.h"

namespace parley {

class Deadline {
 public:
  explicit Deadline(int64_t at_steady_ms) : at_ms_(at_steady_ms) {}

  int64_t at_ms() const { return at_ms_; }

  // The applying stage calls this just before applying. False: too late, do not apply.
  bool claim(int64_t now_steady_ms) {
    if (now_steady_ms >= at_ms_) {
      expire();
      return state_.load() == kClaimed;
    }
    int expected = kPending;
    return state_.compare_exchange_strong(expected, kClaimed) || expected == kClaimed;
  }

  // The timer calls this at the deadline. True: the command is now expired, answer `timeout`.
  bool expire() {
    int expected = kPending;
    return state_.compare_exchange_strong(expected, kExpired) || expected == kExpired;
  }

  bool expired() const { return state_.load() == kExpired; }

 private:
  static constexpr int kPending = 0;
  static constexpr int kClaimed = 1;
  static constexpr int kExpired = 2;
  int64_t at_ms_;
  std::atomic<int> state_{kPending};
};

using DeadlinePtr = std::shared_ptr<Deadline>;

/// The stage about to apply a command claims its deadline (a command without one always may).
/// False: the timer answered first, and the command must not apply (answer expired_error()).
inline bool claim_deadline(const DeadlinePtr& deadline, int64_t now_steady_ms) {
  return !deadline || deadline->claim(now_steady_ms);
}

/// The answer of a command whose deadline passed before any stage could apply it.
inline Error expired_error() {
  return make_error(Errc::timeout, "the command expired before it was applied");
}

}  // namespace parley
