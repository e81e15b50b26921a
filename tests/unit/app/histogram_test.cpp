#include "app/histogram.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace parley {
namespace {

TEST(HistogramTest, OneTwoFiveBoundsAreLogLinear) {
  EXPECT_EQ(Histogram::one_two_five(10, 1000),
            (std::vector<uint64_t>{10, 20, 50, 100, 200, 500, 1000}));
  EXPECT_EQ(Histogram::duration_bounds().size(), 19u);
}

TEST(HistogramTest, ValuesLandInTheFirstBoundAtOrAboveThem) {
  Histogram h({10, 20, 50}, 1);
  for (uint64_t v : {0, 10, 11, 20, 49, 50, 51, 1000}) h.observe(v);
  auto s = h.snapshot();
  EXPECT_EQ(s.cumulative, (std::vector<uint64_t>{2, 4, 6, 8}));  // le=10, 20, 50, +Inf
  EXPECT_EQ(s.count, 8u);
  EXPECT_EQ(s.sum, 0u + 10 + 11 + 20 + 49 + 50 + 51 + 1000);
}

TEST(HistogramTest, RendersPrometheusTextInTheExportedUnit) {
  Histogram h({10'000, 1'000'000'000}, 1e9);
  h.observe(5'000);
  h.observe(2'000'000'000);
  std::string out;
  h.render(out, "x_seconds", "op=\"send\"");
  EXPECT_EQ(out,
            "x_seconds_bucket{op=\"send\",le=\"1e-05\"} 1\n"
            "x_seconds_bucket{op=\"send\",le=\"1\"} 1\n"
            "x_seconds_bucket{op=\"send\",le=\"+Inf\"} 2\n"
            "x_seconds_sum{op=\"send\"} 2.000005\n"
            "x_seconds_count{op=\"send\"} 2\n");
}

TEST(HistogramTest, ThreadsRecordWithoutLosingAny) {
  Histogram h;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&h, t] {
      for (int i = 0; i < 100000; ++i) h.observe(static_cast<uint64_t>(i * (t + 1)));
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(h.snapshot().count, 400000u);
}

}  // namespace
}  // namespace parley
