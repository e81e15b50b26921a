#pragma once
// Process-wide counters, exported at GET /metrics. Relaxed atomics: they are statistics.
#include <atomic>
#include <cstdint>

namespace parley {

struct Metrics {
  std::atomic<int64_t> connections_open{0};
  std::atomic<int64_t> commands_inflight{0};  // admitted, not answered yet (waiting ones too)
  std::atomic<int64_t> results_kept{0};       // for sessions not connected (session registry)
  std::atomic<uint64_t> connections_total{0};
  std::atomic<uint64_t> commands_total{0};
  std::atomic<uint64_t> command_errors_total{0};
  std::atomic<uint64_t> messages_appended_total{0};
  std::atomic<uint64_t> commits_total{0};
  std::atomic<uint64_t> deliveries_total{0};
  std::atomic<uint64_t> slow_consumer_closes_total{0};
  std::atomic<uint64_t> dead_letters_total{0};
  std::atomic<uint64_t> rate_limited_total{0};

  static Metrics& global() {
    static Metrics m;
    return m;
  }
};

inline void count(std::atomic<uint64_t>& c, uint64_t n = 1) {
  c.fetch_add(n, std::memory_order_relaxed);
}

}  // namespace parley
