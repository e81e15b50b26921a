#pragma once
// Per-user send rate limit, shared by all of a user's connections (a user cannot multiply
// the limit by opening more connections).
//
// Buckets are evicted so that a stream of distinct users cannot grow the map: a bucket that has
// refilled to full is exactly what a new user gets, so dropping it changes nothing. Each call
// evicts at most a few, oldest use first, and the number of buckets has a hard cap.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "domain/token_bucket.h"

namespace parley {

class RateLimiter {
 public:
  /// Idle buckets evicted per call at most: bounded work, still faster than one new user a call.
  static constexpr int kEvictPerCall = 8;

  /// @p max_buckets: past it the least recently used bucket is dropped even if not full yet
  /// (that user gets a fresh burst: only under a flood of distinct users within one refill).
  RateLimiter(double rate_per_s, double burst, size_t max_buckets = 100'000);

  /// @return true if @p user may send one more message at @p now_ms.
  bool allow(const std::string& user, int64_t now_ms);

  // A cluster shares one quota per user approximately: each instance counts what its users
  // spent, publishes it every few hundred milliseconds, and charges what the others spent.
  /// Starts counting what allow() lets through, per user (at most max_buckets users).
  void count_usage() { counting_ = true; }
  /// What allow() let through since the last call, per user; resets the counts.
  std::vector<std::pair<std::string, uint32_t>> take_usage();
  /// @p user spent @p n sends elsewhere: they come out of the bucket here (down to empty).
  void charge(const std::string& user, double n, int64_t now_ms);

  /// Buckets held (for tests and metrics).
  size_t size() const;

 private:
  using Lru = std::list<const std::string*>;  // keys of buckets_, least recently used first
  struct Slot {
    TokenBucket bucket;
    int64_t last_ms;
    Lru::iterator lru;
  };
  Slot& slot(const std::string& user, int64_t now_ms);  // found or made; most recently used
  void evict_idle(int64_t now_ms);
  void evict_front();

  double rate_;
  double burst_;
  size_t max_buckets_;
  int64_t full_after_ms_;  // idle this long, a bucket is full again; < 0: never refills
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Slot> buckets_;  // nodes do not move: lru_ points at keys
  Lru lru_;
  std::atomic<bool> counting_{false};
  std::unordered_map<std::string, uint32_t> usage_;  // since take_usage(); guarded by mutex_
};

}  // namespace parley
