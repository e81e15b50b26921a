#pragma once
// Per-user send rate limit, shared by all of a user's connections (a user cannot multiply
// the limit by opening more connections).
#include <mutex>
#include <string>
#include <unordered_map>

#include "domain/token_bucket.h"

namespace parley {

class RateLimiter {
 public:
  RateLimiter(double rate_per_s, double burst) : rate_(rate_per_s), burst_(burst) {}

  /// @return true if @p user may send one more message at @p now_ms.
  bool allow(const std::string& user, int64_t now_ms);

 private:
  double rate_;
  double burst_;
  std::mutex mutex_;
  std::unordered_map<std::string, TokenBucket> buckets_;
};

}  // namespace parley
