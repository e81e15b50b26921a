#include "adapters/kafka/kafka_range_reader.h"

#include <chrono>

#include "adapters/kafka/consumer_util.h"

namespace parley {

namespace {

KafkaConfPtr reader_conf(const KafkaOptions& options) {
  return make_kafka_conf(options, KafkaClientKind::consumer,
                         {{"group.id", "parley-range-reader"},
                          {"enable.auto.commit", "false"},
                          {"enable.auto.offset.store", "false"},
                          {"enable.partition.eof", "true"},
                          {"fetch.wait.max.ms", "10"},
                          {"auto.offset.reset", "error"}});
}

}  // namespace

KafkaRangeReader::KafkaRangeReader(KafkaOptions options, std::string topic)
    : options_(std::move(options)), topic_(std::move(topic)) {
  reader_conf(options_);  // refuses a bad property now rather than at the first read
}

Result<std::vector<Consumed>> KafkaRangeReader::read(int32_t partition, int64_t from, int64_t to,
                                                     int timeout_ms) const {
  if (from > to || from < 0) return make_error(Errc::bad_request, "kafka range: from > to");
  std::vector<Consumed> out;
  if (from == to) return out;
  using Clock = std::chrono::steady_clock;
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);

  KafkaHandlePtr rk;
  try {
    rk = make_kafka_handle(RD_KAFKA_CONSUMER, reader_conf(options_));
  } catch (const std::exception& e) {
    return make_error(Errc::unavailable, e.what());
  }
  rd_kafka_poll_set_consumer(rk.get());
  KafkaPartitionListPtr list(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(list.get(), topic_.c_str(), partition)->offset = from;
  if (rd_kafka_resp_err_t err = rd_kafka_assign(rk.get(), list.get())) {
    return make_error(Errc::unavailable,
                      std::string("kafka range: assign: ") + rd_kafka_err2str(err));
  }

  Result<std::vector<Consumed>> result = make_error(Errc::timeout, "kafka range: timed out");
  int64_t next = from;
  while (next < to) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) break;
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk.get(), static_cast<int>(left.count()));
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (m->partition == partition && m->offset >= next && m->offset < to) {
        out.push_back(kafka_detail::to_consumed(m));
      }
      if (m->offset + 1 > next) next = m->offset + 1;
    } else if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      // The end of the log: offsets below it that were not delivered have no record.
      if (m->offset > next) next = m->offset;
    } else if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ||
               m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) {
      result =
          make_error(Errc::not_found, std::string("kafka range: ") + rd_kafka_message_errstr(m));
      rd_kafka_message_destroy(m);
      break;
    } else if (m->rkt != nullptr) {
      result =
          make_error(Errc::unavailable, std::string("kafka range: ") + rd_kafka_message_errstr(m));
      rd_kafka_message_destroy(m);
      break;
    }  // else a client-wide event (a broker went down): librdkafka retries, the deadline bounds it
    rd_kafka_message_destroy(m);
  }
  if (next >= to) result = std::move(out);
  rd_kafka_consumer_close(rk.get());
  return result;
}

}  // namespace parley
