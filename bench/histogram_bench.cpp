// What a histogram costs the paths that record into it: one observe (a bucket scan and two
// relaxed adds to the thread's own shard), alone and from two threads at once, beside one
// shared atomic counter hammered by the same threads (what a histogram without shards would
// pay), and a scrape's render.
#include <benchmark/benchmark.h>

#include <atomic>

#include "app/histogram.h"

namespace {

using namespace parley;

Histogram& shared_histogram() {
  static Histogram h;
  return h;
}

void BM_HistogramObserve(benchmark::State& state) {
  Histogram& h = shared_histogram();
  uint64_t v = 1234567 + static_cast<uint64_t>(state.thread_index()) * 977;
  for (auto _ : state) {
    h.observe(v);
    v = (v * 1103515245 + 12345) % 2'000'000'000;  // spread over the buckets
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HistogramObserve)->Threads(1)->Threads(2)->UseRealTime();

std::atomic<uint64_t> shared_counter{0};

void BM_SharedAtomicAdd(benchmark::State& state) {
  for (auto _ : state) shared_counter.fetch_add(1, std::memory_order_relaxed);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SharedAtomicAdd)->Threads(1)->Threads(2)->UseRealTime();

void BM_MonotonicNs(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(monotonic_ns());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MonotonicNs);

void BM_HistogramRender(benchmark::State& state) {
  Histogram h;
  for (uint64_t v = 1; v < 100000; v += 7) h.observe(v * 1000);
  for (auto _ : state) {
    std::string out;
    h.render(out, "parley_bench_seconds", "op=\"send\"");
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(BM_HistogramRender);

}  // namespace
