#pragma once
// A log-linear histogram (HdrHistogram's layout): values below 2*S are counted exactly; above,
// each power-of-two range is split into S equal buckets, so a reported percentile is never more
// than 1/S above the true value (S = 256: 0.4 %). Fixed memory, O(1) record, no allocation after
// construction: safe to call once per delivery.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace parley::bench {

class Histogram {
 public:
  static constexpr int kSubBits = 8;  // S = 2^kSubBits sub-buckets per power of two
  static constexpr uint64_t kSub = uint64_t{1} << kSubBits;

  Histogram();

  void record(uint64_t value);
  void reset();
  void merge(const Histogram& other);

  uint64_t count() const { return count_; }
  uint64_t min() const { return count_ ? min_ : 0; }
  uint64_t max() const { return max_; }
  /// The smallest recorded-bucket value v such that at least q % of the values are <= v, reported
  /// as the bucket's highest value (never below the true percentile, at most 1/S above it), and
  /// never above max(). 0 when empty. @p q in [0, 100].
  uint64_t percentile(double q) const;

  /// Bucket arithmetic, exposed for the unit test.
  static size_t index_of(uint64_t value);
  static uint64_t highest_in(size_t index);

 private:
  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
};

}  // namespace parley::bench
