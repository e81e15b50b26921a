#include "adapters/kafka/kafka_producer.h"

#include <spdlog/spdlog.h>

#include <unistd.h>
#include <boost/json.hpp>

#include <chrono>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <optional>

#include "adapters/kafka/record_mac.h"
#include "app/metrics.h"

namespace parley {

namespace {

constexpr int kProbeIntervalMs = 1000;
constexpr int kProbeTimeoutMs = 2000;
// reachable(): the last probe answered at most this long ago. A silent cut is seen within
// kProbeFreshMs + kProbeTimeoutMs at worst (~8 s), inside /readyz's 10 s promise. Shorter, one
// silent broker of three made it flap: librdkafka may send the next metadata request to that
// broker again until its socket times out (5 s).
constexpr int64_t kProbeFreshMs = 6000;
// How long a replaced handle may take to hand back what it held.
constexpr int kDrainMs = 5000;

int64_t steady_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// What travels with a record through librdkafka: its payload (librdkafka does not copy it;
// it is released with the report) and the callback.
struct Pending {
  std::string key;
  std::string value;
  DeliveryCallback on_delivery;
  int64_t produced_ns = monotonic_ns();  // to the acknowledgement: parley_kafka_produce_ack_seconds
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

KafkaProducer::KafkaProducer(const KafkaOptions& options, std::string probe_topic)
    : options_(options), probe_topic_(std::move(probe_topic)) {
  // Test hook (see test_hooks()): on the log's producer only, so a test knows which one fails.
  if (const char* f = std::getenv("PARLEY_TEST_KAFKA_FATAL_FILE"); f && !probe_topic_.empty()) {
    fatal_file_ = f;
    if (auto at = fatal_file_.find("{pid}"); at != std::string::npos) {
      fatal_file_.replace(at, 5, std::to_string(::getpid()));
    }
  }
  rk_ = make_handle();
  poller_ = std::thread([this] { poll_loop(); });
  if (!probe_topic_.empty()) prober_ = std::thread([this] { probe_loop(); });
}

std::shared_ptr<rd_kafka_t> KafkaProducer::make_handle() {
  // With make_kafka_conf's socket timeouts, these bound how long a silently dead broker (no
  // RST) holds records: see docs/scaling.md, "Broker failures", for each value.
  auto conf = make_kafka_conf(options_, KafkaClientKind::producer,
                              {{"acks", "all"},
                               {"enable.idempotence", "true"},
                               {"linger.ms", "2"},
                               {"message.timeout.ms", "10000"},
                               {"request.timeout.ms", "3000"},
                               {"partitioner", "murmur2_random"},
                               {"statistics.interval.ms", "1000"}});
  rd_kafka_conf_set_dr_msg_cb(conf.get(), &KafkaProducer::on_report);
  rd_kafka_conf_set_stats_cb(conf.get(), &KafkaProducer::on_stats);
  rd_kafka_conf_set_error_cb(conf.get(), &KafkaProducer::on_error);
  rd_kafka_conf_set_opaque(conf.get(), this);
  return std::shared_ptr<rd_kafka_t>(make_kafka_handle(RD_KAFKA_PRODUCER, std::move(conf)));
}

std::shared_ptr<rd_kafka_t> KafkaProducer::current() const {
  std::shared_lock lock(rk_mu_);
  return rk_;
}

KafkaProducer::~KafkaProducer() {
  stop();
}

void KafkaProducer::poll_loop() {
  // rd_kafka_poll wakes as soon as a report is ready: the timeout only bounds how late a stop,
  // a fatal error or a test hook is noticed.
  while (!stopping_.load(std::memory_order_acquire)) {
    auto rk = current();
    rd_kafka_poll(rk.get(), 100);
    if (rd_kafka_fatal_error(rk.get(), nullptr, 0) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      fatal_.store(true, std::memory_order_relaxed);
      rk.reset();
      recreate();
    }
    test_hooks();
  }
}

// A handle with a fatal error takes no record ever again: a new one replaces it. What the old
// one still holds is purged (queued: provably never sent; in flight: abandoned, outcome
// unknown) and its reports are served here before it is destroyed, so every callback runs once.
void KafkaProducer::recreate() {
  std::shared_ptr<rd_kafka_t> fresh;
  try {
    fresh = make_handle();
  } catch (const std::exception& e) {
    spdlog::error("kafka producer: cannot replace the failed handle: {}", e.what());
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    return;  // the next loop tries again; reachable() stays false meanwhile
  }
  std::shared_ptr<rd_kafka_t> old;
  {
    std::unique_lock lock(rk_mu_);
    old = std::exchange(rk_, std::move(fresh));
  }
  rd_kafka_purge(old.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  auto deadline = steady_now_ms() + kDrainMs;
  while (rd_kafka_outq_len(old.get()) > 0 && steady_now_ms() < deadline) {
    rd_kafka_poll(old.get(), 50);
  }
  rd_kafka_poll(old.get(), 0);
  uint64_t n = recreated_.fetch_add(1, std::memory_order_relaxed) + 1;
  spdlog::warn("kafka producer: replaced the handle after a fatal error ({} since start)", n);
  fatal_.store(false, std::memory_order_relaxed);
  probe_ok_ms_.store(0, std::memory_order_relaxed);  // ready again once the new one answers
}

// PARLEY_TEST_KAFKA_FATAL_FILE=PATH (tests only; "{pid}" in PATH stands for the process id):
// when PATH appears, it is removed and the log producer's current handle gets a fatal error,
// as librdkafka raises one (rd_kafka_test_fatal_error).
void KafkaProducer::test_hooks() {
  if (fatal_file_.empty() || ::access(fatal_file_.c_str(), F_OK) != 0) return;
  ::unlink(fatal_file_.c_str());
  inject_fatal_error("injected by PARLEY_TEST_KAFKA_FATAL_FILE");
}

void KafkaProducer::inject_fatal_error(const char* reason) {
  auto rk = current();
  spdlog::warn("kafka producer: injecting a fatal error ({})", reason);
  rd_kafka_test_fatal_error(rk.get(), RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER, reason);
}

// An active request with its own deadline: librdkafka keeps a silently cut connection UP for
// socket.timeout.ms and more, so its connection states cannot tell.
void KafkaProducer::probe_loop() {
  bool was_ok = true;
  while (!stopping_.load(std::memory_order_acquire)) {
    auto rk = current();
    rd_kafka_topic_t* topic = rd_kafka_topic_new(rk.get(), probe_topic_.c_str(), nullptr);
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_resp_err_t err = topic == nullptr
                                  ? rd_kafka_last_error()
                                  : rd_kafka_metadata(rk.get(), 0, topic, &md, kProbeTimeoutMs);
    if (md != nullptr) rd_kafka_metadata_destroy(md);
    if (topic != nullptr) rd_kafka_topic_destroy(topic);
    rk.reset();
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      probe_ok_ms_.store(steady_now_ms(), std::memory_order_relaxed);
      if (!was_ok) spdlog::info("kafka answers again");
      was_ok = true;
    } else {
      if (was_ok) spdlog::warn("kafka probe failed: {}", describe(err));
      was_ok = false;
    }
    // After a failure, again soon: the next request may go to another broker.
    int pause_ms = err == RD_KAFKA_RESP_ERR_NO_ERROR ? kProbeIntervalMs : 100;
    for (int waited = 0; waited < pause_ms && !stopping_.load(); waited += 50) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
}

bool KafkaProducer::reachable() const {
  if (fatal_.load(std::memory_order_relaxed)) return false;
  if (probe_topic_.empty()) return reachable_.load(std::memory_order_relaxed);
  int64_t ok = probe_ok_ms_.load(std::memory_order_relaxed);
  return ok != 0 && steady_now_ms() - ok <= kProbeFreshMs;
}

Status KafkaProducer::produce(const std::string& topic, std::string key, std::string value,
                              DeliveryCallback on_delivery, std::string_view traceparent) {
  if (stopped_.load(std::memory_order_acquire)) {
    return make_error(Errc::unavailable, "kafka producer stopped");
  }
  auto* p = new Pending{std::move(key), std::move(value), std::move(on_delivery)};
  // Every record of a cluster role is signed (record_mac.h), its trace included; librdkafka
  // copies the headers.
  std::optional<RecordMac::Tag> tag;
  if (options_.mac) tag = options_.mac->sign(topic, p->key, p->value, traceparent);
  rd_kafka_vu_t vus[6];
  size_t n = 0;
  vus[n].vtype = RD_KAFKA_VTYPE_TOPIC;
  vus[n++].u.cstr = topic.c_str();
  vus[n].vtype = RD_KAFKA_VTYPE_KEY;
  vus[n].u.mem.ptr = p->key.data();
  vus[n++].u.mem.size = p->key.size();
  vus[n].vtype = RD_KAFKA_VTYPE_VALUE;
  vus[n].u.mem.ptr = p->value.data();
  vus[n++].u.mem.size = p->value.size();
  if (tag) {
    vus[n].vtype = RD_KAFKA_VTYPE_HEADER;
    vus[n].u.header.name = RecordMac::kHeader;
    vus[n].u.header.val = tag->data();
    vus[n++].u.header.size = static_cast<ssize_t>(tag->size());
  }
  if (!traceparent.empty()) {
    vus[n].vtype = RD_KAFKA_VTYPE_HEADER;
    vus[n].u.header.name = RecordMac::kTraceHeader;
    vus[n].u.header.val = traceparent.data();
    vus[n++].u.header.size = static_cast<ssize_t>(traceparent.size());
  }
  vus[n].vtype = RD_KAFKA_VTYPE_OPAQUE;
  vus[n++].u.ptr = p;
  // No RD_KAFKA_MSG_F_BLOCK: a full queue fails at once with _QUEUE_FULL.
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
  {
    std::shared_lock lock(rk_mu_);
    if (rd_kafka_error_t* error = rd_kafka_produceva(rk_.get(), vus, n)) {
      err = rd_kafka_error_code(error);
      rd_kafka_error_destroy(error);
    }
  }
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return Ok{};
  delete p;
  if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
    return make_error(Errc::unavailable, "kafka producer queue full");
  }
  if (err == RD_KAFKA_RESP_ERR__FATAL) {
    fatal_.store(true, std::memory_order_relaxed);  // the poll thread replaces the handle
    return make_error(Errc::unavailable, "kafka producer is being replaced after a fatal error");
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
    d.abandoned = !d.not_persisted && (m->err == RD_KAFKA_RESP_ERR__FATAL ||
                                       m->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT);
    if (m->err == RD_KAFKA_RESP_ERR__FATAL) d.code = Errc::unavailable;
  }
  // An acknowledgement proves a broker is up; no need to wait for the next statistics.
  if (d.ok) static_cast<KafkaProducer*>(opaque)->reachable_.store(true, std::memory_order_relaxed);
  if (p == nullptr) return;
  if (d.ok) {
    Metrics::global().kafka_produce_ack_seconds.observe(
        static_cast<uint64_t>(std::max<int64_t>(0, monotonic_ns() - p->produced_ns)));
  }
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
  auto rk = current();
  const rd_kafka_metadata_t* md = nullptr;
  bool ok = rd_kafka_metadata(rk.get(), 0, nullptr, &md, timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR;
  if (md != nullptr) rd_kafka_metadata_destroy(md);
  if (ok) reachable_.store(true, std::memory_order_relaxed);
  return ok;
}

Result<int64_t> KafkaProducer::high_watermark(const std::string& topic, int32_t partition,
                                              int timeout_ms) {
  int64_t low = 0;
  int64_t high = 0;
  auto rk = current();
  rd_kafka_resp_err_t err =
      rd_kafka_query_watermark_offsets(rk.get(), topic.c_str(), partition, &low, &high, timeout_ms);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return make_error(Errc::unavailable, std::string("watermarks: ") + rd_kafka_err2str(err));
  }
  return high;
}

void KafkaProducer::purge_queued() {
  std::shared_lock lock(rk_mu_);
  rd_kafka_purge(rk_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_NON_BLOCKING);
}

int KafkaProducer::outstanding() const {
  std::shared_lock lock(rk_mu_);
  return rd_kafka_outq_len(rk_.get());
}

bool KafkaProducer::flush(int timeout_ms) {
  // Waits while the poll thread serves the reports, so every callback runs on that thread.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (outstanding() > 0) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

void KafkaProducer::stop(int flush_ms) {
  if (stopped_.exchange(true)) return;
  flush(flush_ms);
  rd_kafka_purge(current().get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  flush(5000);
  stopping_.store(true, std::memory_order_release);
  if (poller_.joinable()) poller_.join();
  if (prober_.joinable()) prober_.join();
  // Anything still unserved (a report that raced the join) is served here.
  rd_kafka_poll(current().get(), 0);
}

}  // namespace parley
