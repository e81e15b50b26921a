#pragma once
// How every Kafka client of the cluster mode is configured: one KafkaOptions from the command
// line, the client's own defaults under it and the user's --kafka-config overrides on top.
// librdkafka handles and configurations are wrapped in unique_ptrs so that no path leaks them.
#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace parley {

using KafkaProperty = std::pair<std::string, std::string>;
class RecordMac;

struct KafkaOptions {
  std::string bootstrap;  // host:port,host:port
  // --kafka-config k=v, applied last to every client. A key prefixed `producer.`, `consumer.`
  // or `admin.` applies to that kind of client only (the prefix is stripped).
  std::vector<KafkaProperty> overrides;
  std::string topic_prefix;
  int partitions = 8;   // of the messages topic, when ensure_topics creates it
  int replication = 0;  // 0: min(3, brokers)
  // The cluster's record key (record_mac.h): producers sign every record with it, consumers
  // mark each record authentic or not. Without one nothing is signed and nothing is authentic.
  std::shared_ptr<const RecordMac> mac;

  std::string messages() const { return topic_prefix + "parley.messages"; }
  std::string results() const { return topic_prefix + "parley.results"; }
  std::string events() const { return topic_prefix + "parley.events"; }
  std::string dlq() const { return topic_prefix + "parley.dlq"; }
};

/// Parses one --kafka-config argument "key=value"; throws std::invalid_argument if it has no '='
/// or an empty key.
KafkaProperty parse_kafka_property(const std::string& key_value);

struct ConfDeleter {
  void operator()(rd_kafka_conf_t* c) const { rd_kafka_conf_destroy(c); }
};
struct HandleDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
struct TopicPartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
};
using KafkaConfPtr = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;
using KafkaHandlePtr = std::unique_ptr<rd_kafka_t, HandleDeleter>;
using KafkaPartitionListPtr =
    std::unique_ptr<rd_kafka_topic_partition_list_t, TopicPartitionListDeleter>;

enum class KafkaClientKind { producer, consumer, admin };

/// A configuration for one client: @p defaults, then bootstrap.servers, then the overrides that
/// apply to @p kind. librdkafka's log and error callbacks are routed to spdlog. Throws
/// std::runtime_error naming the property if librdkafka refuses one (at start-up only).
KafkaConfPtr make_kafka_conf(const KafkaOptions& options, KafkaClientKind kind,
                             const std::vector<KafkaProperty>& defaults);

/// Sets one property; throws std::runtime_error with librdkafka's reason if it is refused.
void set_kafka_property(rd_kafka_conf_t* conf, const std::string& key, const std::string& value);

/// What the default error callback does: logs (a fatal error as critical).
void log_kafka_error(rd_kafka_t* rk, int err, const char* reason);

/// rd_kafka_new; takes the configuration; throws std::runtime_error if it fails.
KafkaHandlePtr make_kafka_handle(rd_kafka_type_t type, KafkaConfPtr conf);

/// The partition count of @p topic from a metadata request: 0 if the topic does not exist,
/// -1 if the request failed (no broker within @p timeout_ms).
int kafka_partition_count(rd_kafka_t* rk, const std::string& topic, int timeout_ms);

}  // namespace parley
