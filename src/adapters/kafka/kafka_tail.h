#pragma once
// The tail of one topic: a consumer outside any consumer group (rd_kafka_assign, no
// subscribe, no commits) assigned to the partitions its owner gives, at the offsets it gives:
// every partition (the events and results topics), or only those its owner has interest in,
// added one by one as that interest arises (the log: an instance reads the partitions of the
// rooms its clients use). One thread polls and hands the records to the sink in batches, in
// offset order within each partition.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "adapters/kafka/consumed.h"
#include "adapters/kafka/kafka_config.h"
#include "domain/errc.h"

namespace parley {

struct TailCallbacks {
  // A batch of records (never empty), on the tail's thread.
  std::function<void(std::vector<Consumed>&&)> on_records;
  // A partition error, on the tail's thread; partition -1: not about one partition. With the
  // default auto.offset.reset=error, a start offset that the broker does not have comes here
  // (code not_found, "Offset out of range"): that partition is stuck (see stuck()) and the
  // tail assigns it at the same position again every second, so it goes on by itself once the
  // broker has the offset (a leader that comes back with the log, a replica catching up).
  std::function<void(int32_t partition, Errc code, const std::string& error)> on_error;
  // After each batch, on the tail's thread: for each partition it moved, the records between
  // the tail's position and the high watermark of the last fetch (0: caught up). Optional.
  std::function<void(int32_t partition, int64_t behind)> on_lag = {};
};

// Which partitions a tail reads from the start: all of them (a partition missing from the
// start map from its beginning), or only those in the start map (more come with add()).
enum class TailScope { every_partition, given_partitions };

class KafkaTail {
 public:
  /// Reads the topic's partitions and high watermarks (blocking, start-up), assigns the
  /// partitions of @p scope at @p start (with every_partition, a missing one from the
  /// beginning) and starts the thread.
  /// Defaults: fetch.wait.max.ms=100 (a real broker answers a waiting fetch as soon as a record
  /// arrives, so this costs no latency; 10 made three idle instances cost a broker 15 % of a
  /// core in empty fetches, 100 costs 4 %), enable.partition.eof=true, enable.auto.commit=false,
  /// auto.offset.reset=error, a dummy group.id; then @p tuning (a busy topic's batching); then
  /// KafkaOptions::overrides win.
  /// Throws std::runtime_error if the topic does not exist or no broker answers in
  /// @p timeout_ms.
  KafkaTail(const KafkaOptions& options, std::string topic, std::map<int32_t, int64_t> start,
            TailCallbacks callbacks, int timeout_ms = 10000,
            const std::vector<KafkaProperty>& tuning = {},
            TailScope scope = TailScope::every_partition);
  ~KafkaTail();
  KafkaTail(const KafkaTail&) = delete;
  KafkaTail& operator=(const KafkaTail&) = delete;

  int32_t partitions() const { return partitions_; }
  /// Starts reading @p partition at @p offset, without touching the others (any thread). False
  /// if it is read already, or does not exist. caught_up() is about the start only: whoever
  /// adds a partition waits for its records itself.
  bool add(int32_t partition, int64_t offset);
  /// How many partitions are read.
  size_t assigned() const;
  /// The next offset of each partition: past the last record handed to the sink, or the end
  /// the broker reported.
  std::map<int32_t, int64_t> positions() const;
  /// The high watermarks seen at start.
  const std::map<int32_t, int64_t>& start_high() const { return start_high_; }
  /// True once every partition reached the high watermark seen at start (stays true).
  bool caught_up() const { return caught_up_.load(std::memory_order_acquire); }
  /// The partitions that cannot be read at their position now (an offset out of range, an
  /// unknown partition), with the error: the tail is not following the log there, so an
  /// instance must not say it is ready. Empty when every partition is read.
  std::map<int32_t, std::string> stuck() const;
  /// Stops the thread (after the batch in hand). Idempotent.
  void stop();

 private:
  void run();
  void check_caught_up();
  void report_lag(const std::map<int32_t, int64_t>& moved);
  void retry_stuck();

  std::string topic_;
  std::shared_ptr<const RecordMac> mac_;
  TailCallbacks callbacks_;
  KafkaHandlePtr rk_;
  int32_t partitions_ = 0;
  std::map<int32_t, int64_t> start_high_;
  // Guards positions_ and stuck_, and orders the assignment's changes (add, retry_stuck).
  mutable std::mutex mu_;
  std::map<int32_t, int64_t> positions_;                // the partitions read; guarded by mu_
  std::map<int32_t, std::string> stuck_;                // guarded by mu_
  std::chrono::steady_clock::time_point next_retry_{};  // the tail's thread only
  std::atomic<bool> caught_up_{false};
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

/// A tail of every partition of @p topic from its beginning, its errors logged under @p what.
std::unique_ptr<KafkaTail> tail_from_beginning(
    const KafkaOptions& options, const std::string& topic,
    std::function<void(std::vector<Consumed>&&)> on_records, const std::string& what);

}  // namespace parley
