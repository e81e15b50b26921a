#include "app/rate_limiter.h"

#include <cmath>

namespace parley {

RateLimiter::RateLimiter(double rate_per_s, double burst, size_t max_buckets)
    : rate_(rate_per_s),
      burst_(burst),
      max_buckets_(max_buckets < 1 ? 1 : max_buckets),
      // From any level (never below 0) a bucket refills burst tokens in burst / rate seconds;
      // one more millisecond covers the rounding of the refill arithmetic.
      full_after_ms_(
          rate_per_s > 0 ? static_cast<int64_t>(std::ceil(burst * 1000.0 / rate_per_s)) + 1 : -1) {}

RateLimiter::Slot& RateLimiter::slot(const std::string& user, int64_t now_ms) {
  evict_idle(now_ms);
  auto it = buckets_.find(user);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_buckets_) evict_front();
    it = buckets_.emplace(user, Slot{TokenBucket(rate_, burst_, now_ms), now_ms, {}}).first;
    it->second.lru = lru_.insert(lru_.end(), &it->first);
  } else {
    lru_.splice(lru_.end(), lru_, it->second.lru);
    if (now_ms > it->second.last_ms) it->second.last_ms = now_ms;
  }
  return it->second;
}

bool RateLimiter::allow(const std::string& user, int64_t now_ms) {
  std::lock_guard lock(mutex_);
  if (!slot(user, now_ms).bucket.try_take(now_ms)) return false;
  if (counting_.load(std::memory_order_relaxed)) {
    auto it = usage_.find(user);
    if (it != usage_.end()) {
      ++it->second;
    } else if (usage_.size() < max_buckets_) {
      usage_.emplace(user, 1);
    }
  }
  return true;
}

std::vector<std::pair<std::string, uint32_t>> RateLimiter::take_usage() {
  std::lock_guard lock(mutex_);
  std::vector<std::pair<std::string, uint32_t>> out(usage_.begin(), usage_.end());
  usage_.clear();
  return out;
}

void RateLimiter::charge(const std::string& user, double n, int64_t now_ms) {
  std::lock_guard lock(mutex_);
  slot(user, now_ms).bucket.charge(n, now_ms);
}

size_t RateLimiter::size() const {
  std::lock_guard lock(mutex_);
  return buckets_.size();
}

void RateLimiter::evict_idle(int64_t now_ms) {
  if (full_after_ms_ < 0) return;
  for (int n = 0; n < kEvictPerCall && !lru_.empty(); ++n) {
    const Slot& oldest = buckets_.find(*lru_.front())->second;
    if (now_ms - oldest.last_ms < full_after_ms_) return;
    evict_front();
  }
}

void RateLimiter::evict_front() {
  auto it = buckets_.find(*lru_.front());
  lru_.pop_front();
  buckets_.erase(it);
}

}  // namespace parley
