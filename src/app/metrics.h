#pragma once
// Process-wide counters, exported at GET /metrics. Relaxed atomics: they are statistics.
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

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
  // Cluster: the log's partitions this instance reads, and the records it folded from them.
  std::atomic<int64_t> log_partitions_read{0};
  std::atomic<uint64_t> log_records_folded_total{0};
  // Cluster: records read from Kafka without a valid MAC, dropped. By topic, named without the
  // --topic-prefix (kRecordTopics; the last is any other topic).
  static constexpr std::array<std::string_view, 4> kRecordTopics = {
      "parley.messages", "parley.results", "parley.events", "other"};
  std::array<std::atomic<uint64_t>, kRecordTopics.size()> records_rejected_total{};
  static size_t record_topic_index(std::string_view topic) {
    for (size_t i = 0; i + 1 < kRecordTopics.size(); ++i) {
      if (topic.ends_with(kRecordTopics[i])) return i;
    }
    return kRecordTopics.size() - 1;
  }

  static Metrics& global() {
    static Metrics m;
    return m;
  }
};

inline void count(std::atomic<uint64_t>& c, uint64_t n = 1) {
  c.fetch_add(n, std::memory_order_relaxed);
}

}  // namespace parley
