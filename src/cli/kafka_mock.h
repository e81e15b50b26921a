#pragma once
// `parley kafka-mock`: librdkafka's in-memory mock Kafka cluster in its own process, for tests
// and local runs without a real broker. Prints the bootstrap on stdout, runs until a signal.
#include <string>

namespace CLI {
class App;
}

namespace parley {

struct KafkaMockOptions {
  int brokers = 3;
  int partitions = 8;
  std::string topic_prefix;
  std::string bootstrap_file;  // also written here, if set
};

/// Adds the `kafka-mock` subcommand to @p app; @p opts receives its flags.
CLI::App* add_kafka_mock_command(CLI::App& app, KafkaMockOptions& opts);
/// Runs the mock cluster until SIGINT/SIGTERM; returns the process exit code.
int run_kafka_mock(const KafkaMockOptions& opts);

}  // namespace parley
