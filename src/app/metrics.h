#pragma once
// Process-wide counters, gauges and histograms, exported at GET /metrics. Relaxed atomics: they
// are statistics. The histograms take no lock and share no cache line between threads
// (histogram.h).
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "app/histogram.h"

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

  // Upgrades refused with 503 by --max-connects-per-sec, before any authentication work.
  std::atomic<uint64_t> connects_refused_total{0};
  // Rooms joined by the connections open now (one per connection and room).
  std::atomic<int64_t> room_subscriptions{0};

  // Command latency, admission to result, by op (kOps; the last is any unknown op).
  static constexpr std::array<std::string_view, 11> kOps = {
      "send", "join",   "leave",    "history", "create_room", "invite",
      "dm",   "typing", "presence", "ping",    "other"};
  static size_t op_index(std::string_view op) {
    for (size_t i = 0; i + 1 < kOps.size(); ++i) {
      if (op == kOps[i]) return i;
    }
    return kOps.size() - 1;
  }
  std::array<Histogram, kOps.size()> command_seconds{};
  // A message's log timestamp (ms) to its frame queued on this process's sockets, per worker.
  Histogram send_fanout_seconds;
  // The storage's durable write: SQLite's COMMIT; PostgreSQL's batch in the persister.
  Histogram storage_commit_seconds;
  // A Kafka record produced to its acknowledgement (successful delivery reports only).
  Histogram kafka_produce_ack_seconds;
  // Bytes queued on a connection when a gather write of it starts.
  Histogram send_queue_bytes{Histogram::one_two_five(100, 5'000'000), 1};

  // Cluster, per partition of the log: records behind the high watermark. The fold (instances)
  // and the persister (what it stored). -1: not read here. Partitions past kLagPartitions are not
  // reported.
  static constexpr size_t kLagPartitions = 256;
  std::array<std::atomic<int64_t>, kLagPartitions> fold_lag_records;
  std::array<std::atomic<int64_t>, kLagPartitions> persister_lag_records;
  static void set_lag(std::array<std::atomic<int64_t>, kLagPartitions>& lags, int32_t partition,
                      int64_t behind) {
    if (partition < 0 || static_cast<size_t>(partition) >= kLagPartitions) return;
    lags[static_cast<size_t>(partition)].store(behind < 0 ? 0 : behind, std::memory_order_relaxed);
  }
  static void forget_lag(std::array<std::atomic<int64_t>, kLagPartitions>& lags,
                         int32_t partition) {
    if (partition < 0 || static_cast<size_t>(partition) >= kLagPartitions) return;
    lags[static_cast<size_t>(partition)].store(-1, std::memory_order_relaxed);
  }

  Metrics() {
    for (auto& l : fold_lag_records) l.store(-1, std::memory_order_relaxed);
    for (auto& l : persister_lag_records) l.store(-1, std::memory_order_relaxed);
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
