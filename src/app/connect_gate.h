#pragma once
// The guard against reconnect storms (--max-connects-per-sec): a token bucket in front of the
// WebSocket upgrade, taken before any authentication work, so a storm costs the server an HTTP
// parse and a 503 per refused attempt, not a token check or a session. A refused attempt is
// told when to come back (Retry-After): each one gets the next free slot of the rate, so a
// herd refused together comes back spread over time instead of all at once again.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <mutex>

#include "domain/token_bucket.h"

namespace parley {

class ConnectGate {
 public:
  static constexpr int64_t kMaxRetryAfterS = 60;

  /// @p per_second 0: no limit. The burst is one second's worth.
  ConnectGate(double per_second, int64_t now_ms)
      : rate_(per_second), bucket_(per_second, std::max(1.0, per_second), now_ms) {}

  /// 0 if the upgrade may go on; otherwise the seconds (>= 1) after which to retry. Any thread.
  int64_t admit(int64_t now_ms) {
    if (rate_ <= 0) return 0;
    std::lock_guard lock(mu_);  // an upgrade's cost, not a message's: never on the delivery path
    if (bucket_.try_take(now_ms)) return 0;
    // The refused book slots after those already promised, 1/rate apart, starting at now.
    promised_ms_ = std::max<double>(promised_ms_, static_cast<double>(now_ms)) + 1000.0 / rate_;
    auto wait_s =
        static_cast<int64_t>(std::ceil((promised_ms_ - static_cast<double>(now_ms)) / 1000.0));
    return std::clamp<int64_t>(wait_s, 1, kMaxRetryAfterS);
  }

 private:
  double rate_;
  std::mutex mu_;
  TokenBucket bucket_;
  double promised_ms_ = 0;
};

}  // namespace parley
