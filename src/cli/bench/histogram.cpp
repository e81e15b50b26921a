#include "cli/bench/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace parley::bench {

namespace {
// Linear region [0, 2S) then (64 - kSubBits - 1) power-of-two ranges of S buckets each.
constexpr size_t kBuckets = 2 * Histogram::kSub + (64 - Histogram::kSubBits - 1) * Histogram::kSub;
}  // namespace

Histogram::Histogram() : counts_(kBuckets, 0) {}

size_t Histogram::index_of(uint64_t value) {
  if (value < 2 * kSub) return static_cast<size_t>(value);
  // msb >= kSubBits + 1; keep the top kSubBits + 1 bits: sub in [S, 2S).
  int msb = 63 - std::countl_zero(value);
  int shift = msb - kSubBits;
  uint64_t sub = value >> shift;
  return static_cast<size_t>(2 * kSub + static_cast<uint64_t>(shift - 1) * kSub + (sub - kSub));
}

uint64_t Histogram::highest_in(size_t index) {
  if (index < 2 * kSub) return index;
  uint64_t rel = index - 2 * kSub;
  int shift = static_cast<int>(rel / kSub) + 1;
  uint64_t sub = kSub + rel % kSub;
  return ((sub + 1) << shift) - 1;
}

void Histogram::record(uint64_t value) {
  ++counts_[index_of(value)];
  ++count_;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
}

void Histogram::reset() {
  std::fill(counts_.begin(), counts_.end(), 0);
  count_ = 0;
  min_ = UINT64_MAX;
  max_ = 0;
}

void Histogram::merge(const Histogram& other) {
  for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

uint64_t Histogram::percentile(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 100.0);
  // The rank of the value asked for, 1-based: the nearest-rank definition.
  auto rank = static_cast<uint64_t>(std::ceil(q / 100.0 * static_cast<double>(count_)));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::min(highest_in(i), max_);
  }
  return max_;
}

}  // namespace parley::bench
