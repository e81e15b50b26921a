#pragma once
// Start-up administration of the cluster's four topics (blocking calls, exceptions on failure:
// nothing here runs on the hot path).
#include <map>
#include <string>

#include "adapters/kafka/kafka_config.h"

namespace parley {

/// Creates whichever of messages / results / events / dlq does not exist yet (CreateTopics):
/// messages with options.partitions partitions and message.timestamp.type=LogAppendTime,
/// results retention.ms=600000, events retention.ms=60000, dlq the broker's defaults; the other
/// three topics get options.partitions partitions too. Replication: options.replication, or
/// min(3, brokers in the metadata); min.insync.replicas = min(2, replication). Topics that
/// exist are left as they are (a different partition count is logged, not changed). Waits
/// until the metadata shows every topic. If all four exist it asks nothing more, so it works
/// on librdkafka's mock cluster (no CreateTopics) when the topics were made there; if some are
/// missing and the cluster has no controller (the mock), throws saying so.
/// Throws std::runtime_error on any failure.
void ensure_topics(const KafkaOptions& options, int timeout_ms = 30000);

/// The partition count of each of the four topics that exists (a missing one is absent).
/// Throws std::runtime_error if no broker answers within @p timeout_ms.
std::map<std::string, int> describe(const KafkaOptions& options, int timeout_ms = 10000);

/// The configuration of @p topic as the broker reports it (DescribeConfigs; not on the mock).
/// Throws std::runtime_error on failure.
std::map<std::string, std::string> describe_topic_config(const KafkaOptions& options,
                                                         const std::string& topic,
                                                         int timeout_ms = 10000);

}  // namespace parley
