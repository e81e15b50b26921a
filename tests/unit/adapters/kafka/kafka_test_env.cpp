#include "unit/adapters/kafka/kafka_test_env.h"

#include <stdlib.h>

#include <chrono>
#include <cstdio>
#include <filesystem>

namespace parley::kafka_test {

namespace {

const std::string kScript = std::string(PARLEY_SOURCE_DIR) + "/scripts/kafka";

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

void RealKafka::SetUp() {
  if (const char* bs = std::getenv("PARLEY_TEST_KAFKA"); bs && *bs) {
    bootstrap = bs;
    if (const char* d = std::getenv("PARLEY_TEST_KAFKA_DIR")) dir = d;
    return;
  }
  char tmpl[] = "/tmp/parley-kafka-test-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  dir = tmpl;
  owned_ = true;
  auto t0 = std::chrono::steady_clock::now();
  std::string cmd = kScript + " start --brokers 1 --dir " + dir;
  FILE* f = popen(cmd.c_str(), "r");
  ASSERT_NE(f, nullptr);
  char line[4096];
  std::string last;
  while (std::fgets(line, sizeof line, f) != nullptr) last = line;
  int rc = pclose(f);
  while (!last.empty() && (last.back() == '\n' || last.back() == '\r')) last.pop_back();
  ASSERT_EQ(rc, 0) << cmd << " failed";
  ASSERT_FALSE(last.empty());
  bootstrap = last;
  std::printf("started a broker at %s in %.1f s\n", bootstrap.c_str(), seconds_since(t0));
}

void RealKafka::TearDown() {
  if (!owned_) return;
  std::string cmd = kScript + " stop --dir " + dir + " 2>/dev/null";
  EXPECT_EQ(std::system(cmd.c_str()), 0);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

bool RealKafka::script(const std::string& args) {
  return std::system((kScript + " " + args + " --dir " + dir + " 2>/dev/null").c_str()) == 0;
}

RealKafka* RealKafka::instance =
    static_cast<RealKafka*>(::testing::AddGlobalTestEnvironment(new RealKafka));

}  // namespace parley::kafka_test
