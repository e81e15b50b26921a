#pragma once
// The per-user send quota of a cluster, approximate and without any coordination: each
// instance runs an ordinary RateLimiter with the rate and the burst divided by the number of
// live instances n. How close it is to one shared bucket of (rate, burst):
// - a user whose connections are spread over k of the n instances gets at most k/n of the
//   rate, so never more than the full rate (k <= n), and exactly the full rate when it sends
//   through every instance evenly;
// - a user on one instance only (the common case) gets rate/n: stricter than a single server,
//   by the factor n. Operators who want the single-server limit per connection multiply the
//   configured rate accordingly.
// - the burst is divided too but never below 1 (else nobody could send), so when n > burst a
//   user spread over k instances may burst k messages.
// - when n changes the buckets start over (full, at the new size): a user may get up to one
//   extra burst per change of n. Instances come and go rarely, so this is accepted.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <string>

#include "app/rate_limiter.h"

namespace parley {

class SharedQuota {
 public:
  /// @p rate_per_s and @p burst: the quota of a user over the whole cluster.
  SharedQuota(double rate_per_s, double burst, size_t max_buckets = 100'000);

  /// The number of live instances, this one included (values below 1 count as 1). A change
  /// rebuilds the local limiter with rate/n and max(1, burst/n).
  void set_instances(size_t n);
  size_t instances() const;

  /// @return true if @p user may send one more message through this instance at @p now_ms.
  bool allow(const std::string& user, int64_t now_ms);

  /// The local share in force (for tests and metrics).
  double local_rate() const;
  double local_burst() const;

 private:
  const double rate_;
  const double burst_;
  const size_t max_buckets_;
  mutable std::shared_mutex mutex_;  // allow() shares it; set_instances() swaps the limiter
  size_t instances_ = 1;
  double local_rate_;
  double local_burst_;
  std::unique_ptr<RateLimiter> limiter_;
};

}  // namespace parley
