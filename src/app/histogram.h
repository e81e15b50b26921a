#pragma once
// A Prometheus histogram that threads record into without a lock or a shared cache line: each
// thread adds to a shard of its own (relaxed atomics, one cache line apart from the others'),
// and a scrape sums the shards. Buckets are fixed at construction, cumulative `le` bounds as
// Prometheus wants them; values are integers in a raw unit (nanoseconds, bytes, records) that
// the export divides by a unit (1e9 for seconds).
#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace parley {

class Histogram {
 public:
  // Threads beyond this many share shards (still correct: the adds are atomic).
  static constexpr size_t kShards = 16;
  static constexpr size_t kMaxBuckets = 31;  // finite bounds; +Inf is one more

  /// @p bounds: ascending upper bounds in raw units (at most kMaxBuckets); a raw value divided
  /// by @p unit is the exported value (1e9: nanoseconds exported as seconds).
  Histogram(std::vector<uint64_t> bounds, double unit = 1);
  /// Durations: duration_bounds() in nanoseconds, exported in seconds.
  Histogram() : Histogram(duration_bounds(), 1e9) {}
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  /// Records one value; any thread, wait-free.
  void observe(uint64_t value) {
    size_t i = 0;
    while (i < n_ && value > bounds_[i]) ++i;  // n_ <= 31: a scan beats a branchy search
    Shard& s = shards_[shard_index()];
    s.buckets[i].fetch_add(1, std::memory_order_relaxed);
    s.sum.fetch_add(value, std::memory_order_relaxed);
  }

  struct Snapshot {
    std::vector<uint64_t> cumulative;  // per bound, then +Inf (== count)
    uint64_t count = 0;
    uint64_t sum = 0;  // raw units
  };
  Snapshot snapshot() const;

  /// Appends the _bucket, _sum and _count samples of @p name (HELP/TYPE excluded) with the
  /// extra @p labels (`op="send"`, or empty).
  void render(std::string& out, std::string_view name, std::string_view labels = {}) const;

  /// 1, 2, 5 times each power of ten from @p lo up to @p hi (raw units): log-linear buckets.
  static std::vector<uint64_t> one_two_five(uint64_t lo, uint64_t hi);
  /// Bounds for durations in nanoseconds, 10 us to 10 s (19 buckets), exported in seconds.
  static std::vector<uint64_t> duration_bounds() { return one_two_five(10'000, 10'000'000'000); }

 private:
  struct alignas(64) Shard {
    std::array<std::atomic<uint64_t>, kMaxBuckets + 1> buckets{};
    std::atomic<uint64_t> sum{0};
  };
  static size_t shard_index();

  std::array<uint64_t, kMaxBuckets> bounds_{};
  size_t n_ = 0;
  double unit_;
  std::array<Shard, kShards> shards_;
};

/// Writes the HELP and TYPE lines of a histogram family.
void histogram_header(std::string& out, std::string_view name, std::string_view help);

/// Nanoseconds of a monotonic clock, for durations measured across threads (std::chrono only).
int64_t monotonic_ns();

}  // namespace parley
