#include "cli/cluster_settings.h"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <stdexcept>
#include <string>

#include "adapters/kafka/kafka_admin.h"

namespace parley {

namespace {

namespace json = boost::json;

// The key of an override as the producer sees it: the `producer.` prefix stripped, other
// kinds' keys ignored.
bool producer_key(const std::string& key, const std::string& name) {
  return key == name || key == "producer." + name;
}

void check_producer_overrides(const KafkaOptions& kafka) {
  for (const auto& [key, value] : kafka.overrides) {
    if ((producer_key(key, "acks") || producer_key(key, "request.required.acks")) &&
        value != "all" && value != "-1") {
      throw std::runtime_error("--kafka-config " + key + "=" + value +
                               ": a cluster needs acks=all (an acknowledged message must survive "
                               "the loss of a broker)");
    }
    if (producer_key(key, "enable.idempotence") && value != "true") {
      throw std::runtime_error("--kafka-config " + key + "=" + value +
                               ": a cluster needs the idempotent producer (a retried record must "
                               "not be appended twice or out of order)");
    }
  }
}

void check_messages_topic(const KafkaOptions& kafka) {
  std::map<std::string, std::string> config;
  try {
    config = describe_topic_config(kafka, kafka.messages());
  } catch (const std::exception& e) {
    // librdkafka's mock cluster answers no DescribeConfigs; it stamps LogAppendTime anyway.
    spdlog::warn("cannot read the configuration of {} ({}); not checked", kafka.messages(),
                 e.what());
    return;
  }
  auto it = config.find("message.timestamp.type");
  if (it != config.end() && it->second != "LogAppendTime") {
    throw std::runtime_error(kafka.messages() + " has message.timestamp.type=" + it->second +
                             "; parley needs LogAppendTime (the ttl rule compares the broker's "
                             "append time with each command's deadline)");
  }
}

}  // namespace

void check_cluster_settings(const KafkaOptions& kafka, PgStore& store, int64_t dedupe_window) {
  check_producer_overrides(kafka);
  check_messages_topic(kafka);

  auto topics = describe(kafka);
  auto partitions = topics.find(kafka.messages());
  if (partitions == topics.end()) throw std::runtime_error(kafka.messages() + " does not exist");
  json::object mine{{"dedupe_window", dedupe_window}, {"partitions", partitions->second}};
  auto stored = store.shared_setting("cluster", [&] { return json::serialize(mine); });
  if (!stored) {
    throw std::runtime_error("cannot read the cluster's settings: " + stored.error().message);
  }
  json::object theirs;
  try {
    theirs = json::parse(*stored).as_object();
  } catch (const std::exception& e) {
    throw std::runtime_error("the cluster's settings in PostgreSQL are not JSON: " + *stored);
  }
  for (const auto& [name, value] : mine) {
    const json::value* other = theirs.if_contains(name);
    if (other == nullptr || *other != value) {
      throw std::runtime_error(
          "cluster setting " + std::string(name) + " is " +
          (other ? json::serialize(*other) : std::string("missing")) +
          " for the cluster (stored in PostgreSQL by its first role) but " +
          json::serialize(value) +
          " here: every instance and persister must fold the log alike (for the dedupe window, "
          "pass the same --dedupe-window; for partitions, a topic's partitions cannot change "
          "under a running cluster)");
    }
  }
}

}  // namespace parley
