#include "app/rate_limiter.h"

namespace parley {

bool RateLimiter::allow(const std::string& user, int64_t now_ms) {
  std::lock_guard lock(mutex_);
  auto it = buckets_.find(user);
  if (it == buckets_.end()) it = buckets_.emplace(user, TokenBucket(rate_, burst_, now_ms)).first;
  return it->second.try_take(now_ms);
}

}  // namespace parley
