#pragma once
// The Kafka broker the tests of a binary run against: PARLEY_TEST_KAFKA=bootstrap uses a running
// cluster (PARLEY_TEST_KAFKA_DIR: its scripts/kafka dir, for tests that pause a broker);
// otherwise one broker started with scripts/kafka for the binary and stopped at its end.
// Linking kafka_test_env.cpp registers it as a GoogleTest environment; a broker that cannot be
// started fails the run (it does not skip it). Tests take a topic prefix of their own
// (kafka_test::unique_prefix).
#include <gtest/gtest.h>

#include <string>

namespace parley::kafka_test {

class RealKafka : public ::testing::Environment {
 public:
  static RealKafka* instance;
  std::string bootstrap;
  std::string dir;  // scripts/kafka --dir, empty if unknown
  int brokers = 1;

  void SetUp() override;
  void TearDown() override;
  /// Runs scripts/kafka @p args on this cluster's directory; true if it succeeded.
  bool script(const std::string& args);

 private:
  bool owned_ = false;
};

}  // namespace parley::kafka_test
