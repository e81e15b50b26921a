#pragma once
// The one producer of an instance: idempotent (acks=all, enable.idempotence=true), so a retry
// inside librdkafka never duplicates or reorders a record. produce() never blocks: a full
// local queue is answered `unavailable` at once. Delivery reports are served by the producer's
// own poll thread, which runs every on_delivery callback (keep them short; never call flush or
// stop from one).
//
// A fatal error (librdkafka's idempotent producer gives up on a partition's sequence, e.g.
// OUT_OF_ORDER_SEQUENCE_NUMBER after a leader died) leaves a handle that refuses every record
// for good. The poll thread then replaces the handle with a new one: what the old one held is
// purged and answered (abandoned), so the users of this object keep their shared_ptr and only
// see a short spell of `unavailable`.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>

#include "adapters/kafka/kafka_config.h"
#include "domain/errc.h"
#include "domain/result.h"

namespace parley {

struct Delivery {
  bool ok = false;
  Errc code = Errc::internal;  // when !ok: timeout (message.timeout.ms, purged), too_large,
                               // unavailable (anything else)
  std::string error;           // librdkafka's name and text of the error
  int32_t partition = -1;
  int64_t offset = -1;
  int64_t timestamp_ms = -1;
  bool log_append_time = false;  // timestamp_ms is the broker's append time
  // RD_KAFKA_MSG_STATUS_NOT_PERSISTED: the record provably never reached a broker (purged from
  // the local queue, or refused before sending), so it will never be appended.
  bool not_persisted = false;
  // The producer gave up on it while it may have reached a broker (a fatal error, or purged in
  // flight): no later report will tell, only the log can.
  bool abandoned = false;
};

using DeliveryCallback = std::function<void(const Delivery&)>;

/// The partition the producer picks for a non-empty @p key among @p partitions (murmur2, the
/// Java client's partitioner, configured as `partitioner=murmur2_random` by default).
int32_t kafka_partition_for_key(std::string_view key, int32_t partitions);

class KafkaProducer {
 public:
  /// Defaults: acks=all, enable.idempotence=true, linger.ms=2, message.timeout.ms=10000,
  /// statistics.interval.ms=1000, and short socket/request timeouts so that a silently dead
  /// broker is left within seconds (docs/scaling.md says why each value);
  /// KafkaOptions::overrides win. Starts the poll thread and, if @p probe_topic is not empty,
  /// the probe thread (see reachable()). Throws std::runtime_error on a bad property.
  explicit KafkaProducer(const KafkaOptions& options, std::string probe_topic = {});
  ~KafkaProducer();
  KafkaProducer(const KafkaProducer&) = delete;
  KafkaProducer& operator=(const KafkaProducer&) = delete;

  /// Enqueues one record. On success @p on_delivery runs exactly once, later, on the poll
  /// thread. On failure (queue full: unavailable; too large: too_large; stopped: unavailable)
  /// it is not called. Never blocks.
  /// A non-empty @p traceparent goes into the record's `traceparent` header (and its MAC).
  Status produce(const std::string& topic, std::string key, std::string value,
                 DeliveryCallback on_delivery, std::string_view traceparent = {});

  /// Drops every record still in the local queue (not yet handed to a broker): each comes back
  /// through its callback with ok=false, code=timeout, not_persisted=true. In-flight records are
  /// left alone (their outcome is unknown until the broker answers). Does not block.
  void purge_queued();

  /// Kafka answers: with a probe topic, a metadata request for it (every second, each with its
  /// own 2 s deadline) succeeded within the last kProbeFreshMs, so a silent partition (no RST,
  /// connections still UP) turns this false within ~4 s. Without one: librdkafka's statistics
  /// show a broker UP. Always false while the handle is being replaced after a fatal error.
  bool reachable() const;
  /// Fatal errors recovered from (handles replaced) since start.
  uint64_t recreated() const { return recreated_.load(std::memory_order_relaxed); }
  /// Asks for metadata (blocking, up to @p timeout_ms): true if a broker answered. Start-up only.
  bool wait_reachable(int timeout_ms);

  /// The high watermark of @p partition of @p topic (the offset after the last committed record),
  /// asked of its leader: blocking, up to @p timeout_ms; `unavailable` if no answer.
  Result<int64_t> high_watermark(const std::string& topic, int32_t partition, int timeout_ms);

  /// rd_kafka_outq_len: records not yet answered (queued, in flight, reports not yet served)
  /// plus other librdkafka events waiting for the poll thread (statistics, errors).
  int outstanding() const;
  /// Waits until every record produced so far has been answered; false on timeout.
  bool flush(int timeout_ms);
  /// Flushes for up to @p flush_ms, purges what is left (queued and in flight, each answered
  /// with an error), serves the last reports and joins the poll thread. Idempotent.
  void stop(int flush_ms = 2000);

  /// The current handle: for start-up requests only (it changes after a fatal error).
  rd_kafka_t* handle() { return rk_.get(); }

  /// For tests: a fatal error as librdkafka raises it (rd_kafka_test_fatal_error).
  void inject_fatal_error(const char* reason);

 private:
  static void on_report(rd_kafka_t* rk, const rd_kafka_message_t* msg, void* opaque);
  static void on_error(rd_kafka_t* rk, int err, const char* reason, void* opaque);
  static int on_stats(rd_kafka_t* rk, char* json, size_t len, void* opaque);
  void poll_loop();
  void probe_loop();
  std::shared_ptr<rd_kafka_t> make_handle();
  std::shared_ptr<rd_kafka_t> current() const;
  void recreate();
  void test_hooks();

  KafkaOptions options_;
  std::string probe_topic_;
  // produce() and the requests hold it shared; only recreate() takes it exclusively, for the
  // swap of the handle (a pointer move), so no caller waits on a broker under it.
  mutable std::shared_mutex rk_mu_;
  std::shared_ptr<rd_kafka_t> rk_;
  std::string fatal_file_;  // PARLEY_TEST_KAFKA_FATAL_FILE, see test_hooks()
  std::atomic<bool> fatal_{false};
  std::atomic<uint64_t> recreated_{0};
  std::atomic<int64_t> probe_ok_ms_{0};  // steady ms of the last successful probe
  std::atomic<bool> reachable_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> stopped_{false};
  std::thread poller_;
  std::thread prober_;
};

}  // namespace parley
