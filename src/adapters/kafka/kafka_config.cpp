#include "adapters/kafka/kafka_config.h"

#include <spdlog/spdlog.h>

#include <stdexcept>

namespace parley {

namespace {

// librdkafka logs with syslog levels from its own threads; spdlog is thread-safe.
void log_cb(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
  auto lvl = level <= 2   ? spdlog::level::err
             : level <= 4 ? spdlog::level::warn
             : level <= 6 ? spdlog::level::info
                          : spdlog::level::debug;
  spdlog::log(lvl, "kafka {} {}: {}", rd_kafka_name(rk), fac, buf);
}

void error_cb(rd_kafka_t* rk, int err, const char* reason, void* /*opaque*/) {
  log_kafka_error(rk, err, reason);
}

bool applies(const std::string& key, KafkaClientKind kind, std::string& stripped) {
  static const std::pair<const char*, KafkaClientKind> prefixes[] = {
      {"producer.", KafkaClientKind::producer},
      {"consumer.", KafkaClientKind::consumer},
      {"admin.", KafkaClientKind::admin}};
  for (const auto& [prefix, k] : prefixes) {
    std::string p(prefix);
    if (key.rfind(p, 0) == 0) {
      stripped = key.substr(p.size());
      return k == kind;
    }
  }
  stripped = key;
  return true;
}

}  // namespace

void log_kafka_error(rd_kafka_t* rk, int err, const char* reason) {
  auto code = static_cast<rd_kafka_resp_err_t>(err);
  if (code == RD_KAFKA_RESP_ERR__FATAL) {
    char buf[512];
    rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, buf, sizeof buf);
    spdlog::critical("kafka {} fatal error {}: {}", rd_kafka_name(rk), rd_kafka_err2name(orig),
                     buf);
    return;
  }
  // A failed connection is already in librdkafka's own log; librdkafka retries it by itself.
  auto level = code == RD_KAFKA_RESP_ERR__TRANSPORT ? spdlog::level::debug : spdlog::level::warn;
  spdlog::log(level, "kafka {}: {} ({})", rd_kafka_name(rk), reason, rd_kafka_err2name(code));
}

KafkaProperty parse_kafka_property(const std::string& key_value) {
  auto eq = key_value.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw std::invalid_argument("--kafka-config expects key=value, got '" + key_value + "'");
  }
  return {key_value.substr(0, eq), key_value.substr(eq + 1)};
}

void set_kafka_property(rd_kafka_conf_t* conf, const std::string& key, const std::string& value) {
  char err[512];
  if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
    throw std::runtime_error("kafka configuration " + key + "=" + value + ": " + err);
  }
}

KafkaConfPtr make_kafka_conf(const KafkaOptions& options, KafkaClientKind kind,
                             const std::vector<KafkaProperty>& defaults) {
  KafkaConfPtr conf(rd_kafka_conf_new());
  // Every client leaves a silently dead broker within seconds (librdkafka's defaults wait
  // 30-60 s): the tails too must follow a moved leader. docs/scaling.md says why each value.
  static const KafkaProperty common[] = {{"socket.timeout.ms", "5000"},
                                         {"socket.connection.setup.timeout.ms", "2000"},
                                         {"socket.keepalive.enable", "true"},
                                         {"reconnect.backoff.max.ms", "1000"},
                                         {"topic.metadata.refresh.interval.ms", "10000"}};
  for (const auto& [k, v] : common) set_kafka_property(conf.get(), k, v);
  for (const auto& [k, v] : defaults) set_kafka_property(conf.get(), k, v);
  if (!options.bootstrap.empty()) {
    set_kafka_property(conf.get(), "bootstrap.servers", options.bootstrap);
  }
  for (const auto& [k, v] : options.overrides) {
    std::string key;
    if (applies(k, kind, key)) set_kafka_property(conf.get(), key, v);
  }
  rd_kafka_conf_set_log_cb(conf.get(), log_cb);
  rd_kafka_conf_set_error_cb(conf.get(), error_cb);
  return conf;
}

KafkaHandlePtr make_kafka_handle(rd_kafka_type_t type, KafkaConfPtr conf) {
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf.get(), err, sizeof err);
  if (rk == nullptr) throw std::runtime_error(std::string("kafka client: ") + err);
  conf.release();  // owned by rk now
  return KafkaHandlePtr(rk);
}

int kafka_partition_count(rd_kafka_t* rk, const std::string& topic, int timeout_ms) {
  // Metadata of all topics: asking for one topic by name may auto-create it (a real broker
  // with auto.create.topics.enable and a producer handle; the mock always).
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, nullptr, &md, timeout_ms);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return -1;
  int count = 0;
  for (int i = 0; i < md->topic_cnt; ++i) {
    const auto& t = md->topics[i];
    if (topic == t.topic && t.err == RD_KAFKA_RESP_ERR_NO_ERROR) count = t.partition_cnt;
  }
  rd_kafka_metadata_destroy(md);
  return count;
}

}  // namespace parley
