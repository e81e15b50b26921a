#include "adapters/kafka/kafka_range_reader.h"

#include <algorithm>
#include <chrono>
#include <optional>

#include "adapters/kafka/consumer_util.h"

namespace parley {

namespace {

using Clock = std::chrono::steady_clock;

KafkaConfPtr reader_conf(const KafkaOptions& options) {
  return make_kafka_conf(options, KafkaClientKind::consumer,
                         {{"group.id", "parley-range-reader"},
                          {"enable.auto.commit", "false"},
                          {"enable.auto.offset.store", "false"},
                          {"enable.partition.eof", "true"},
                          {"fetch.wait.max.ms", "10"},
                          // What a pooled consumer may prefetch: a page needs far less.
                          {"queued.max.messages.kbytes", "4096"},
                          {"auto.offset.reset", "error"}});
}

void close_handle(KafkaHandlePtr& rk) {
  if (rk) rd_kafka_consumer_close(rk.get());
  rk.reset();
}

Status assign(rd_kafka_t* rk, const std::string& topic, int32_t partition, int64_t offset) {
  KafkaPartitionListPtr list(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), partition)->offset = offset;
  if (rd_kafka_resp_err_t err = rd_kafka_assign(rk, list.get())) {
    return make_error(Errc::unavailable,
                      std::string("kafka range: assign: ") + rd_kafka_err2str(err));
  }
  return Ok{};
}

int ms_left(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::max<int64_t>(0, left.count()));
}

// The error a consumer event stands for, if it ends the read; none for a client-wide event
// (a broker went down: librdkafka retries, the deadline bounds it).
std::optional<Error> read_error(const rd_kafka_message_t* m) {
  if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ||
      m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) {
    return make_error(Errc::not_found, std::string("kafka range: ") + rd_kafka_message_errstr(m));
  }
  if (m->rkt != nullptr) {
    return make_error(Errc::unavailable, std::string("kafka range: ") + rd_kafka_message_errstr(m));
  }
  return std::nullopt;
}

}  // namespace

KafkaRangeReader::KafkaRangeReader(KafkaOptions options, std::string topic, size_t max_idle)
    : options_(std::move(options)), topic_(std::move(topic)), max_idle_(max_idle) {
  reader_conf(options_);  // refuses a bad property now rather than at the first read
}

KafkaRangeReader::~KafkaRangeReader() {
  for (auto& rk : idle_) close_handle(rk);
}

size_t KafkaRangeReader::consumers_made() const {
  std::lock_guard lock(mu_);
  return made_;
}

KafkaHandlePtr KafkaRangeReader::acquire() const {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      KafkaHandlePtr rk = std::move(idle_.back());
      idle_.pop_back();
      return rk;
    }
    ++made_;
  }
  KafkaHandlePtr rk = make_kafka_handle(RD_KAFKA_CONSUMER, reader_conf(options_));
  rd_kafka_poll_set_consumer(rk.get());
  return rk;
}

// A consumer whose read went well goes back to the pool, unassigned so that it stops
// fetching; one that failed is closed (whatever state it is in goes with it).
void KafkaRangeReader::release(KafkaHandlePtr rk) const {
  if (rd_kafka_assign(rk.get(), nullptr) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    std::lock_guard lock(mu_);
    if (idle_.size() < max_idle_) {
      idle_.push_back(std::move(rk));
      return;
    }
  }
  close_handle(rk);
}

Result<std::vector<Consumed>> KafkaRangeReader::read(int32_t partition, int64_t from, int64_t to,
                                                     int timeout_ms) const {
  if (from > to || from < 0) return make_error(Errc::bad_request, "kafka range: from > to");
  std::vector<Consumed> out;
  if (from == to) return out;
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);

  KafkaHandlePtr rk;
  try {
    rk = acquire();
  } catch (const std::exception& e) {
    return make_error(Errc::unavailable, e.what());
  }
  if (Status st = assign(rk.get(), topic_, partition, from); !st) {
    close_handle(rk);
    return st.error();
  }

  std::optional<Error> failed;
  int64_t next = from;
  while (next < to && !failed) {
    int left = ms_left(deadline);
    if (left <= 0) break;
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk.get(), left);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (m->partition == partition && m->offset >= next && m->offset < to) {
        out.push_back(kafka_detail::to_consumed(m, options_.mac.get(), topic_));
      }
      if (m->partition == partition && m->offset + 1 > next) next = m->offset + 1;
    } else if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      // The end of the log: offsets below it that were not delivered have no record.
      if (m->partition == partition && m->offset > next) next = m->offset;
    } else {
      failed = read_error(m);
    }
    rd_kafka_message_destroy(m);
  }
  if (failed || next < to) {
    close_handle(rk);
    if (failed) return *failed;
    return make_error(Errc::timeout, "kafka range: timed out");
  }
  release(std::move(rk));
  return out;
}

Result<std::vector<Consumed>> KafkaRangeReader::read_offsets(int32_t partition,
                                                             const std::vector<int64_t>& offsets,
                                                             int timeout_ms,
                                                             int64_t max_gap) const {
  std::vector<Consumed> out;
  if (offsets.empty()) return out;
  if (offsets.front() < 0) return make_error(Errc::bad_request, "kafka range: offset < 0");
  out.reserve(offsets.size());
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);

  KafkaHandlePtr rk;
  try {
    rk = acquire();
  } catch (const std::exception& e) {
    return make_error(Errc::unavailable, e.what());
  }
  std::optional<Error> failed;
  size_t i = 0;  // the next offset wanted
  while (i < offsets.size() && !failed) {
    // A run: from offsets[i] on, until the next wanted offset is more than max_gap away.
    int64_t from = offsets[i];
    if (Status st = assign(rk.get(), topic_, partition, from); !st) {
      failed = st.error();
      break;
    }
    bool reseek = false;
    while (i < offsets.size() && !reseek && !failed) {
      int left = ms_left(deadline);
      if (left <= 0) {
        failed = make_error(Errc::timeout, "kafka range: timed out");
        break;
      }
      rd_kafka_message_t* m = rd_kafka_consumer_poll(rk.get(), left);
      if (m == nullptr) continue;
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (m->partition == partition && m->offset >= from) {
          while (i < offsets.size() && offsets[i] < m->offset) ++i;  // no record there
          if (i < offsets.size() && offsets[i] == m->offset) {
            out.push_back(kafka_detail::to_consumed(m, options_.mac.get(), topic_));
            ++i;
          }
          reseek = i < offsets.size() && offsets[i] - m->offset > max_gap;
        }
      } else if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        // The end of the log as it is: wanted offsets below it that were not delivered have
        // no record. Those past it are not written yet: wait for them (the deadline bounds it).
        if (m->partition == partition && m->offset >= from) {
          while (i < offsets.size() && offsets[i] < m->offset) ++i;
        }
      } else {
        failed = read_error(m);
      }
      rd_kafka_message_destroy(m);
    }
  }
  if (failed) {
    close_handle(rk);
    return *failed;
  }
  release(std::move(rk));
  return out;
}

}  // namespace parley
