#include "app/cluster/shared_quota.h"

#include <algorithm>
#include <mutex>

namespace parley {

SharedQuota::SharedQuota(double rate_per_s, double burst, size_t max_buckets)
    : rate_(rate_per_s),
      burst_(burst),
      max_buckets_(max_buckets),
      local_rate_(rate_per_s),
      local_burst_(std::max(1.0, burst)),
      limiter_(std::make_unique<RateLimiter>(local_rate_, local_burst_, max_buckets_)) {}

void SharedQuota::set_instances(size_t n) {
  n = std::max<size_t>(1, n);
  std::unique_lock lock(mutex_);
  if (n == instances_) return;  // the common case: keep the buckets
  instances_ = n;
  local_rate_ = rate_ / static_cast<double>(n);
  local_burst_ = std::max(1.0, burst_ / static_cast<double>(n));
  limiter_ = std::make_unique<RateLimiter>(local_rate_, local_burst_, max_buckets_);
}

size_t SharedQuota::instances() const {
  std::shared_lock lock(mutex_);
  return instances_;
}

bool SharedQuota::allow(const std::string& user, int64_t now_ms) {
  std::shared_lock lock(mutex_);  // RateLimiter locks itself; this only guards the swap
  return limiter_->allow(user, now_ms);
}

double SharedQuota::local_rate() const {
  std::shared_lock lock(mutex_);
  return local_rate_;
}

double SharedQuota::local_burst() const {
  std::shared_lock lock(mutex_);
  return local_burst_;
}

}  // namespace parley
