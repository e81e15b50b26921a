#pragma once
// A token bucket with explicit time: rate tokens per second, up to burst. No clock inside,
// so tests pass timestamps and never sleep.
#include <algorithm>
#include <cstdint>

namespace parley {

class TokenBucket {
 public:
  TokenBucket(double rate_per_s, double burst, int64_t now_ms)
      : rate_(rate_per_s), burst_(burst), tokens_(burst), last_ms_(now_ms) {}

  // Takes one token if there is one.
  bool try_take(int64_t now_ms) {
    refill(now_ms);
    if (tokens_ < 1.0) return false;
    tokens_ -= 1.0;
    return true;
  }

  // Takes @p n tokens spent elsewhere (another instance of a cluster), down to empty: never
  // below, so a bucket is always full again within burst / rate.
  void charge(double n, int64_t now_ms) {
    refill(now_ms);
    tokens_ = std::max(0.0, tokens_ - n);
  }

 private:
  void refill(int64_t now_ms) {
    if (now_ms > last_ms_) {
      tokens_ = std::min(burst_, tokens_ + rate_ * static_cast<double>(now_ms - last_ms_) / 1000.0);
      last_ms_ = now_ms;
    }
  }

  double rate_;
  double burst_;
  double tokens_;
  int64_t last_ms_;
};

}  // namespace parley
