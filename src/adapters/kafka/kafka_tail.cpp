#include "adapters/kafka/kafka_tail.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>

#include "adapters/kafka/consumer_util.h"

namespace parley {

namespace {

constexpr size_t kMaxBatch = 1000;
constexpr auto kStuckRetry = std::chrono::seconds(1);

Errc errc_of_consume(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET:
    case RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
      return Errc::not_found;
    default:
      return Errc::unavailable;
  }
}

}  // namespace

KafkaTail::KafkaTail(const KafkaOptions& options, std::string topic,
                     std::map<int32_t, int64_t> start, TailCallbacks callbacks, int timeout_ms,
                     const std::vector<KafkaProperty>& tuning, TailScope scope)
    : topic_(std::move(topic)), mac_(options.mac), callbacks_(std::move(callbacks)) {
  // group.id only because rd_kafka_assign needs one; the tail never joins the group and never
  // commits.
  std::vector<KafkaProperty> defaults = {
      {"group.id", "parley-tail"},           {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"}, {"enable.partition.eof", "true"},
      {"fetch.wait.max.ms", "100"},          {"auto.offset.reset", "error"}};
  defaults.insert(defaults.end(), tuning.begin(), tuning.end());
  auto conf = make_kafka_conf(options, KafkaClientKind::consumer, defaults);
  rk_ = make_kafka_handle(RD_KAFKA_CONSUMER, std::move(conf));
  rd_kafka_poll_set_consumer(rk_.get());

  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  auto left = [&] {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    return std::max<int>(1, static_cast<int>(ms.count()));
  };
  partitions_ = kafka_partition_count(rk_.get(), topic_, timeout_ms);
  if (partitions_ < 0) throw std::runtime_error("kafka tail: no broker answered for " + topic_);
  if (partitions_ == 0) throw std::runtime_error("kafka tail: no topic " + topic_);

  KafkaPartitionListPtr list(rd_kafka_topic_partition_list_new(partitions_));
  for (int32_t p = 0; p < partitions_; ++p) {
    auto it = start.find(p);
    if (scope == TailScope::given_partitions && it == start.end()) continue;
    int64_t low = 0, high = 0;
    rd_kafka_resp_err_t err;
    // Right after a topic is created, or during a leader election, a partition answers "not
    // leader" for a moment: ask again until the deadline.
    while ((err = rd_kafka_query_watermark_offsets(rk_.get(), topic_.c_str(), p, &low, &high,
                                                   left())) != RD_KAFKA_RESP_ERR_NO_ERROR &&
           Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw std::runtime_error("kafka tail: watermarks of " + topic_ + "/" + std::to_string(p) +
                               ": " + rd_kafka_err2str(err));
    }
    start_high_[p] = high;
    positions_[p] = it != start.end() ? it->second : low;
    rd_kafka_topic_partition_list_add(list.get(), topic_.c_str(), p)->offset =
        it != start.end() ? it->second : RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_resp_err_t err =
      list->cnt > 0 ? rd_kafka_assign(rk_.get(), list.get()) : RD_KAFKA_RESP_ERR_NO_ERROR;
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw std::runtime_error("kafka tail: assign " + topic_ + ": " + rd_kafka_err2str(err));
  }
  check_caught_up();
  thread_ = std::thread([this] { run(); });
}

KafkaTail::~KafkaTail() {
  stop();
}

std::map<int32_t, int64_t> KafkaTail::positions() const {
  std::lock_guard lock(mu_);
  return positions_;
}

size_t KafkaTail::assigned() const {
  std::lock_guard lock(mu_);
  return positions_.size();
}

bool KafkaTail::add(int32_t partition, int64_t offset) {
  if (partition < 0 || partition >= partitions_) return false;
  // Under mu_, so that retry_stuck's whole assignment cannot be built without it and applied
  // after it.
  std::lock_guard lock(mu_);
  if (positions_.count(partition) > 0) return false;
  KafkaPartitionListPtr list(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(list.get(), topic_.c_str(), partition)->offset = offset;
  if (rd_kafka_error_t* error = rd_kafka_incremental_assign(rk_.get(), list.get())) {
    spdlog::error("kafka tail {}: add partition {}: {}", topic_, partition,
                  rd_kafka_error_string(error));
    rd_kafka_error_destroy(error);
    return false;
  }
  positions_[partition] = offset;
  return true;
}

std::map<int32_t, std::string> KafkaTail::stuck() const {
  std::lock_guard lock(mu_);
  return stuck_;
}

// librdkafka stops fetching a partition after an offset error (auto.offset.reset=error) and
// does not take a seek there: assign every partition again at the positions handed to the sink
// so far, so that the stuck one resumes once the broker has that offset. Only while one is stuck.
void KafkaTail::retry_stuck() {
  auto now = std::chrono::steady_clock::now();
  if (now < next_retry_) return;
  next_retry_ = now + kStuckRetry;
  KafkaPartitionListPtr list(rd_kafka_topic_partition_list_new(partitions_));
  std::lock_guard lock(mu_);
  if (stuck_.empty()) return;
  for (const auto& [p, next] : positions_) {
    rd_kafka_topic_partition_list_add(list.get(), topic_.c_str(), p)->offset = next;
  }
  if (rd_kafka_resp_err_t err = rd_kafka_assign(rk_.get(), list.get())) {
    spdlog::warn("kafka tail {}: assign again: {}", topic_, rd_kafka_err2str(err));
  }
}

void KafkaTail::check_caught_up() {
  if (caught_up_.load(std::memory_order_relaxed)) return;
  std::lock_guard lock(mu_);
  for (const auto& [p, high] : start_high_) {
    if (positions_[p] < high) return;
  }
  caught_up_.store(true, std::memory_order_release);
}

void KafkaTail::run() {
  std::map<int32_t, int64_t> moved;  // partition -> next offset, applied after the sink
  while (!stopping_.load(std::memory_order_acquire)) {
    retry_stuck();
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_.get(), 100);
    if (m == nullptr) continue;
    std::vector<Consumed> batch;
    moved.clear();
    // The first record waited; the rest of the batch is what is already there.
    do {
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        batch.push_back(kafka_detail::to_consumed(m, mac_.get(), topic_));
        moved[m->partition] = m->offset + 1;
      } else if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        moved[m->partition] = m->offset;
      } else {
        int32_t partition = m->rkt != nullptr ? m->partition : -1;
        std::string error = rd_kafka_message_errstr(m);
        spdlog::warn("kafka tail {} partition {}: {}", topic_, partition, error);
        if (partition >= 0 && errc_of_consume(m->err) == Errc::not_found) {
          std::lock_guard lock(mu_);
          stuck_[partition] = error;
        }
        if (callbacks_.on_error) callbacks_.on_error(partition, errc_of_consume(m->err), error);
      }
      rd_kafka_message_destroy(m);
    } while (batch.size() < kMaxBatch && (m = rd_kafka_consumer_poll(rk_.get(), 0)) != nullptr);
    if (!batch.empty() && callbacks_.on_records) callbacks_.on_records(std::move(batch));
    if (!moved.empty()) {
      {
        std::lock_guard lock(mu_);
        for (const auto& [p, next] : moved) {
          if (next > positions_[p]) positions_[p] = next;
          stuck_.erase(p);  // a record or the end again: it is read
        }
      }
      check_caught_up();
      if (callbacks_.on_lag) report_lag(moved);
    }
  }
}

void KafkaTail::report_lag(const std::map<int32_t, int64_t>& moved) {
  for (const auto& [p, next] : moved) {
    int64_t low = 0;
    int64_t high = -1;
    // The watermark cached from the last fetch response: no request to the broker.
    if (rd_kafka_get_watermark_offsets(rk_.get(), topic_.c_str(), p, &low, &high) !=
            RD_KAFKA_RESP_ERR_NO_ERROR ||
        high < 0) {
      continue;
    }
    callbacks_.on_lag(p, std::max<int64_t>(0, high - next));
  }
}

void KafkaTail::stop() {
  if (stopping_.exchange(true)) return;
  if (thread_.joinable()) thread_.join();
  rd_kafka_consumer_close(rk_.get());
}

std::unique_ptr<KafkaTail> tail_from_beginning(
    const KafkaOptions& options, const std::string& topic,
    std::function<void(std::vector<Consumed>&&)> on_records, const std::string& what) {
  TailCallbacks callbacks;
  callbacks.on_records = std::move(on_records);
  callbacks.on_error = [what](int32_t partition, Errc, const std::string& error) {
    spdlog::warn("{} tail, partition {}: {}", what, partition, error);
  };
  return std::make_unique<KafkaTail>(options, topic, std::map<int32_t, int64_t>{},
                                     std::move(callbacks));
}

}  // namespace parley
