#include "cli/kafka_mock.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <stdexcept>

#include "adapters/kafka/kafka_config.h"

namespace parley {

namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) {
  g_stop = 1;
}

}  // namespace

CLI::App* add_kafka_mock_command(CLI::App& app, KafkaMockOptions& o) {
  auto* cmd = app.add_subcommand(
      "kafka-mock", "Run librdkafka's mock Kafka cluster (tests; no CreateTopics, RAM only)");
  cmd->add_option("--brokers", o.brokers, "Brokers")
      ->check(CLI::Range(1, 16))
      ->capture_default_str();
  cmd->add_option("--partitions", o.partitions, "Partitions of each topic")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  cmd->add_option("--topic-prefix", o.topic_prefix, "Prefix of the topic names");
  cmd->add_option("--bootstrap-file", o.bootstrap_file, "Also write the bootstrap to this file");
  return cmd;
}

int run_kafka_mock(const KafkaMockOptions& o) {
  // No bootstrap.servers: the handle only hosts the mock cluster, it must not try to connect.
  auto conf = KafkaConfPtr(rd_kafka_conf_new());
  set_kafka_property(conf.get(), "log_level", "3");
  KafkaHandlePtr rk = make_kafka_handle(RD_KAFKA_PRODUCER, std::move(conf));
  rd_kafka_mock_cluster_t* mc = rd_kafka_mock_cluster_new(rk.get(), o.brokers);
  if (mc == nullptr) throw std::runtime_error("kafka-mock: could not create the mock cluster");

  KafkaOptions names;
  names.topic_prefix = o.topic_prefix;
  const int rf = std::min(3, o.brokers);
  for (const auto& topic : {names.messages(), names.results(), names.events(), names.dlq()}) {
    if (rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mc, topic.c_str(), o.partitions, rf)) {
      rd_kafka_mock_cluster_destroy(mc);
      throw std::runtime_error("kafka-mock: topic " + topic + ": " + rd_kafka_err2str(err));
    }
  }
  std::string bootstrap = rd_kafka_mock_cluster_bootstraps(mc);
  if (!o.bootstrap_file.empty()) {
    // Written whole under a temporary name, then renamed: a reader never sees half a line.
    std::string tmp = o.bootstrap_file + ".tmp";
    std::ofstream(tmp) << bootstrap << "\n";
    std::rename(tmp.c_str(), o.bootstrap_file.c_str());
  }
  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);
  std::printf("%s\n", bootstrap.c_str());
  std::fflush(stdout);
  spdlog::info("kafka-mock: {} broker(s), {} partitions per topic, bootstrap {}", o.brokers,
               o.partitions, bootstrap);
  while (!g_stop) rd_kafka_poll(rk.get(), 200);
  spdlog::info("kafka-mock: stopping");
  rd_kafka_mock_cluster_destroy(mc);
  return 0;
}

}  // namespace parley
