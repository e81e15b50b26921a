#include "adapters/kafka/kafka_producer.h"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <chrono>
#include <exception>

namespace parley {

namespace {

// What travels with a record through librdkafka: its payload (librdkafka does not copy it;
// it is released with the report) and the callback.
struct Pending {
  std::string key;
  std::string value;
  DeliveryCallback on_delivery;
};

Errc errc_of(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__PURGE_QUEUE:
    case RD_KAFKA_RESP_ERR__PURGE_INFLIGHT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
      return Errc::timeout;
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
      return Errc::too_large;
    default:
      return Errc::unavailable;
  }
}

std::string describe(rd_kafka_resp_err_t err) {
  return std::string(rd_kafka_err2name(err)) + ": " + rd_kafka_err2str(err);
}

}  // namespace

int32_t kafka_partition_for_key(std::string_view key, int32_t partitions) {
  if (partitions <= 0) return -1;
  return rd_kafka_msg_partitioner_murmur2(nullptr, key.data(), key.size(), partitions, nullptr,
                                          nullptr);
}

KafkaProducer::KafkaProducer(const KafkaOptions& options) {
  auto conf = make_kafka_conf(options, KafkaClientKind::producer,
                              {{"acks", "all"},
                               {"enable.idempotence", "true"},
                               {"linger.ms", "2"},
                               {"message.timeout.ms", "10000"},
                               {"partitioner", "murmur2_random"},
                               {"statistics.interval.ms", "1000"}});
  rd_kafka_conf_set_dr_msg_cb(conf.get(), &KafkaProducer::on_report);
  rd_kafka_conf_set_stats_cb(conf.get(), &KafkaProducer::on_stats);
  rd_kafka_conf_set_error_cb(conf.get(), &KafkaProducer::on_error);
  rd_kafka_conf_set_opaque(conf.get(), this);
  rk_ = make_kafka_handle(RD_KAFKA_PRODUCER, std::move(conf));
  poller_ = std::thread([this] { poll_loop(); });
}

KafkaProducer::~KafkaProducer() {
  stop();
}

void KafkaProducer::poll_loop() {
  // rd_kafka_poll wakes as soon as a report is ready: the timeout only bounds how late a stop
  // is noticed.
  while (!stopping_.load(std::memory_order_acquire)) rd_kafka_poll(rk_.get(), 100);
}

Status KafkaProducer::produce(const std::string& topic, std::string key, std::string value,
                              DeliveryCallback on_delivery) {
  if (stopped_.load(std::memory_order_acquire)) {
    return make_error(Errc::unavailable, "kafka producer stopped");
  }
  auto* p = new Pending{std::move(key), std::move(value), std::move(on_delivery)};
  // No RD_KAFKA_MSG_F_BLOCK: a full queue fails at once with _QUEUE_FULL.
  rd_kafka_resp_err_t err = rd_kafka_producev(
      rk_.get(), RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_KEY(p->key.data(), p->key.size()),
      RD_KAFKA_V_VALUE(p->value.data(), p->value.size()), RD_KAFKA_V_OPAQUE(p), RD_KAFKA_V_END);
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return Ok{};
  delete p;
  if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
    return make_error(Errc::unavailable, "kafka producer queue full");
  }
  return make_error(errc_of(err), "kafka produce: " + describe(err));
}

void KafkaProducer::on_report(rd_kafka_t* /*rk*/, const rd_kafka_message_t* m, void* opaque) {
  auto* p = static_cast<Pending*>(m->_private);
  Delivery d;
  d.ok = m->err == RD_KAFKA_RESP_ERR_NO_ERROR;
  d.partition = m->partition;
  d.offset = m->offset;
  rd_kafka_timestamp_type_t type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
  d.timestamp_ms = rd_kafka_message_timestamp(m, &type);
  d.log_append_time = type == RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME;
  if (!d.ok) {
    d.code = errc_of(m->err);
    d.error = describe(m->err);
    d.not_persisted = rd_kafka_message_status(m) == RD_KAFKA_MSG_STATUS_NOT_PERSISTED;
  }
  // An acknowledgement proves a broker is up; no need to wait for the next statistics.
  if (d.ok) static_cast<KafkaProducer*>(opaque)->reachable_.store(true, std::memory_order_relaxed);
  if (p == nullptr) return;
  if (p->on_delivery) {
    try {
      p->on_delivery(d);
    } catch (const std::exception& e) {
      spdlog::error("kafka delivery callback threw: {}", e.what());
    }
  }
  delete p;
}

int KafkaProducer::on_stats(rd_kafka_t* /*rk*/, char* json, size_t len, void* opaque) {
  auto* self = static_cast<KafkaProducer*>(opaque);
  boost::system::error_code ec;
  auto v = boost::json::parse(boost::json::string_view(json, len), ec);
  if (ec || !v.is_object()) return 0;
  bool up = false;
  if (const auto* brokers = v.get_object().if_contains("brokers");
      brokers && brokers->is_object()) {
    for (const auto& [name, b] : brokers->get_object()) {
      if (!b.is_object()) continue;
      const auto* state = b.get_object().if_contains("state");
      if (state && state->is_string() && state->get_string() == "UP") up = true;
    }
  }
  self->reachable_.store(up, std::memory_order_relaxed);
  return 0;  // librdkafka frees json
}

void KafkaProducer::on_error(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
    static_cast<KafkaProducer*>(opaque)->reachable_.store(false, std::memory_order_relaxed);
  }
  log_kafka_error(rk, err, reason);
}

bool KafkaProducer::wait_reachable(int timeout_ms) {
  const rd_kafka_metadata_t* md = nullptr;
  bool ok = rd_kafka_metadata(rk_.get(), 0, nullptr, &md, timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR;
  if (md != nullptr) rd_kafka_metadata_destroy(md);
  if (ok) reachable_.store(true, std::memory_order_relaxed);
  return ok;
}

Result<int64_t> KafkaProducer::high_watermark(const std::string& topic, int32_t partition,
                                              int timeout_ms) {
  int64_t low = 0;
  int64_t high = 0;
  rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(rk_.get(), topic.c_str(), partition,
                                                             &low, &high, timeout_ms);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return make_error(Errc::unavailable, std::string("watermarks: ") + rd_kafka_err2str(err));
  }
  return high;
}

void KafkaProducer::purge_queued() {
  rd_kafka_purge(rk_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_NON_BLOCKING);
}

int KafkaProducer::outstanding() const {
  return rd_kafka_outq_len(rk_.get());
}

bool KafkaProducer::flush(int timeout_ms) {
  // Waits while the poll thread serves the reports, so every callback runs on that thread.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (rd_kafka_outq_len(rk_.get()) > 0) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

void KafkaProducer::stop(int flush_ms) {
  if (stopped_.exchange(true)) return;
  flush(flush_ms);
  rd_kafka_purge(rk_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  flush(5000);
  stopping_.store(true, std::memory_order_release);
  if (poller_.joinable()) poller_.join();
  // Anything still unserved (a report that raced the join) is served here.
  rd_kafka_poll(rk_.get(), 0);
}

}  // namespace parley
