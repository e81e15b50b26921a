#include "cli/bench/histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace parley::bench {
namespace {

// The nearest-rank percentile of a sorted sample: the reference the histogram must match.
uint64_t reference(const std::vector<uint64_t>& sorted, double q) {
  auto rank = static_cast<size_t>(std::ceil(q / 100.0 * static_cast<double>(sorted.size())));
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

void expect_close(const Histogram& h, const std::vector<uint64_t>& sorted, double q) {
  uint64_t want = reference(sorted, q);
  uint64_t got = h.percentile(q);
  // Never below the true value, and at most one bucket (1/S of the value) above it.
  EXPECT_GE(got, want) << "p" << q;
  EXPECT_LE(got, want + want / Histogram::kSub) << "p" << q;
}

TEST(Histogram, PercentilesMatchASortedReferenceOnRandomData) {
  std::mt19937_64 rng(20261207);
  // Latencies in ns: a log-normal body (about 1 ms) with a heavy tail up to seconds.
  std::lognormal_distribution<double> body(std::log(1e6), 1.0);
  for (int round = 0; round < 5; ++round) {
    Histogram h;
    std::vector<uint64_t> values;
    for (int i = 0; i < 20000 + round * 7919; ++i) {
      auto v = static_cast<uint64_t>(body(rng));
      if (i % 997 == 0) v *= 1000;  // the tail
      values.push_back(v);
      h.record(v);
    }
    std::sort(values.begin(), values.end());
    for (double q : {0.0, 1.0, 50.0, 90.0, 99.0, 99.9, 99.99, 100.0}) expect_close(h, values, q);
    EXPECT_EQ(h.count(), values.size());
    EXPECT_EQ(h.min(), values.front());
    EXPECT_EQ(h.max(), values.back());
    EXPECT_EQ(h.percentile(100), values.back());
  }
}

TEST(Histogram, SmallValuesAreExact) {
  Histogram h;
  std::vector<uint64_t> values;
  for (uint64_t v = 0; v < 2 * Histogram::kSub; ++v) {
    h.record(v);
    values.push_back(v);
  }
  for (double q : {10.0, 50.0, 99.0}) EXPECT_EQ(h.percentile(q), reference(values, q));
}

TEST(Histogram, BucketsTileTheRangeWithBoundedWidth) {
  // Every value falls in the bucket whose highest value is >= it, and the previous bucket ends
  // just below it: the buckets leave no gap and do not overlap.
  std::mt19937_64 rng(7);
  for (int i = 0; i < 100000; ++i) {
    uint64_t v = rng() >> (rng() % 64);
    size_t idx = Histogram::index_of(v);
    EXPECT_GE(Histogram::highest_in(idx), v);
    if (idx > 0) {
      EXPECT_LT(Histogram::highest_in(idx - 1), v);
    }
    EXPECT_LE(Histogram::highest_in(idx) - v, v / Histogram::kSub);
  }
  EXPECT_EQ(Histogram::highest_in(Histogram::index_of(UINT64_MAX)), UINT64_MAX);
}

TEST(Histogram, EmptyResetAndMerge) {
  Histogram a, b;
  EXPECT_EQ(a.percentile(99), 0u);
  a.record(5);
  b.record(1000000);
  a.merge(b);
  EXPECT_EQ(a.count(), 2u);
  EXPECT_EQ(a.min(), 5u);
  EXPECT_EQ(a.percentile(50), 5u);
  EXPECT_EQ(a.percentile(100), 1000000u);
  a.reset();
  EXPECT_EQ(a.count(), 0u);
  EXPECT_EQ(a.max(), 0u);
}

}  // namespace
}  // namespace parley::bench
