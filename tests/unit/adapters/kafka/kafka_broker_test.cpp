// The adapter against a REAL Kafka broker (what the mock cannot show: CreateTopics and topic
// configs, LogAppendTime, consumer groups with real timings, a broker that stops answering).
// PARLEY_TEST_KAFKA=bootstrap uses a running cluster (PARLEY_TEST_KAFKA_DIR: its scripts/kafka
// dir, for the pause test); otherwise the test starts one broker with scripts/kafka.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>

#include "adapters/kafka/kafka_admin.h"
#include "adapters/kafka/kafka_group_consumer.h"
#include "adapters/kafka/kafka_producer.h"
#include "adapters/kafka/kafka_tail.h"
#include "kafka_test_util.h"
#include "unit/adapters/kafka/kafka_test_env.h"

namespace parley {
namespace {

using kafka_test::Deliveries;
using kafka_test::eventually;
using kafka_test::now_us;

using kafka_test::RealKafka;

KafkaOptions options(const std::string& name) {
  KafkaOptions o;
  o.bootstrap = RealKafka::instance->bootstrap;
  o.topic_prefix = kafka_test::unique_prefix(name);
  o.partitions = 8;
  return o;
}

TEST(KafkaBroker, EnsureTopicsCreatesTheFourTopicsOnce) {
  auto o = options("topics");
  EXPECT_TRUE(describe(o).empty());
  auto t0 = now_us();
  ensure_topics(o);
  std::printf("ensure_topics created 4 topics in %.0f ms\n", (now_us() - t0) / 1000.0);
  auto d = describe(o);
  ASSERT_EQ(d.size(), 4u);
  for (const auto& [name, n] : d) EXPECT_EQ(n, 8) << name;
  EXPECT_NO_THROW(ensure_topics(o));  // idempotent
  EXPECT_EQ(describe(o), d);

  auto messages = describe_topic_config(o, o.messages());
  EXPECT_EQ(messages["message.timestamp.type"], "LogAppendTime");
  EXPECT_EQ(describe_topic_config(o, o.results())["retention.ms"], "600000");
  EXPECT_EQ(describe_topic_config(o, o.events())["retention.ms"], "60000");
  EXPECT_EQ(describe_topic_config(o, o.dlq())["message.timestamp.type"], "CreateTime");

  // The broker stamps the messages topic's records with its own clock, and says so.
  KafkaProducer producer(o);
  Deliveries d1;
  int64_t before = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  ASSERT_TRUE(producer.produce(o.messages(), "room", "x", d1.callback()).ok());
  ASSERT_TRUE(producer.produce(o.results(), "u\ns", "y", d1.callback()).ok());
  ASSERT_TRUE(d1.wait(2));
  auto got = d1.got();
  for (const auto& r : got) ASSERT_TRUE(r.ok) << r.error;
  std::map<bool, int> by_type;
  for (const auto& r : got) by_type[r.log_append_time]++;
  EXPECT_EQ(by_type[true], 1);
  EXPECT_EQ(by_type[false], 1);
  for (const auto& r : got) {
    EXPECT_GE(r.timestamp_ms, before - 5000);
    EXPECT_LE(r.timestamp_ms, before + 60000);
  }
  EXPECT_TRUE(eventually([&] { return producer.reachable(); }, 3000));
}

struct Group {
  std::mutex mu;
  std::vector<int32_t> assigned, revoked;
  std::map<int32_t, int64_t> start;  // what on_assigned answers
  GroupCallbacks callbacks() {
    return {[this](const std::vector<int32_t>& ps) {
              std::lock_guard lock(mu);
              assigned.insert(assigned.end(), ps.begin(), ps.end());
              std::map<int32_t, int64_t> out;
              for (int32_t p : ps) {
                if (start.count(p)) out[p] = start[p];
              }
              return out;
            },
            [this](const std::vector<int32_t>& ps) {
              std::lock_guard lock(mu);
              revoked.insert(revoked.end(), ps.begin(), ps.end());
            }};
  }
};

// Polls until @p want records came (or the timeout); returns them.
std::vector<Consumed> poll_until(KafkaGroupConsumer& c, size_t want, int timeout_ms) {
  std::vector<Consumed> out;
  auto deadline = now_us() + int64_t(timeout_ms) * 1000;
  while (out.size() < want && now_us() < deadline) {
    for (auto& r : c.poll(100)) out.push_back(std::move(r));
  }
  return out;
}

TEST(KafkaBroker, GroupConsumerCommitsAndASecondMemberResumes) {
  auto o = options("group");
  ensure_topics(o);
  const std::string group = o.topic_prefix + "persister";
  KafkaProducer producer(o);
  Deliveries d;
  for (int i = 0; i < 40; ++i) {
    ASSERT_TRUE(producer
                    .produce(o.messages(), "room" + std::to_string(i % 13), "a" + std::to_string(i),
                             d.callback())
                    .ok());
  }
  ASSERT_TRUE(d.wait(40));

  std::map<int32_t, int64_t> next;
  {
    Group g;
    auto t0 = now_us();
    KafkaGroupConsumer a(o, o.messages(), group, g.callbacks());
    auto got = poll_until(a, 40, 30000);
    std::printf("first member: assigned and read 40 records in %.1f s\n", (now_us() - t0) / 1e6);
    ASSERT_EQ(got.size(), 40u);
    {
      std::lock_guard lock(g.mu);
      EXPECT_EQ(g.assigned.size(), 8u);
    }
    EXPECT_EQ(a.assignment().size(), 8u);
    for (const auto& c : got) {
      EXPECT_EQ(c.value[0], 'a');
      next[c.partition] = std::max(next[c.partition], c.offset + 1);
    }
    auto st = a.commit(next);
    ASSERT_TRUE(st.ok()) << st.error().message;
    a.close();
    std::lock_guard lock(g.mu);
    EXPECT_EQ(g.revoked.size(), 8u);
  }

  Deliveries d2;
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(producer
                    .produce(o.messages(), "room" + std::to_string(i % 13), "b" + std::to_string(i),
                             d2.callback())
                    .ok());
  }
  ASSERT_TRUE(d2.wait(10));
  {
    Group g;  // answers no offsets: the group's committed ones apply
    KafkaGroupConsumer b(o, o.messages(), group, g.callbacks());
    auto got = poll_until(b, 10, 30000);
    ASSERT_EQ(got.size(), 10u);
    for (const auto& c : got) {
      EXPECT_EQ(c.value[0], 'b') << "a committed record came again";
      EXPECT_GE(c.offset, next[c.partition]);
    }
    EXPECT_TRUE(poll_until(b, 1, 500).empty());
  }
  {
    // Another group whose owner picks the start: offset 1 of every partition.
    Group g;
    for (int32_t p = 0; p < 8; ++p) g.start[p] = 1;
    KafkaGroupConsumer c(o, o.messages(), group + "-other", g.callbacks());
    size_t expected = 0;
    std::map<int32_t, int64_t> ends;
    for (const auto& r : d.got()) ends[r.partition] = std::max(ends[r.partition], r.offset + 1);
    for (const auto& r : d2.got()) ends[r.partition] = std::max(ends[r.partition], r.offset + 1);
    for (const auto& [p, end] : ends) expected += end - 1;
    auto got = poll_until(c, expected, 30000);
    EXPECT_EQ(got.size(), expected);
    for (const auto& r : got) EXPECT_GE(r.offset, 1);
  }
}

TEST(KafkaBroker, ProduceNeverBlocksOnAPausedBroker) {
  if (RealKafka::instance->dir.empty()) GTEST_SKIP() << "PARLEY_TEST_KAFKA_DIR not set";
  auto o = options("pause");
  ensure_topics(o);
  KafkaProducer producer(o);
  Deliveries warm;
  ASSERT_TRUE(producer.produce(o.messages(), "k", "warm", warm.callback()).ok());
  ASSERT_TRUE(warm.wait(1));

  ASSERT_TRUE(RealKafka::instance->script("pause 1"));
  struct Resume {
    ~Resume() { RealKafka::instance->script("resume 1"); }
  } resume_at_exit;
  Deliveries d;
  int64_t worst = 0;
  for (int i = 0; i < 50; ++i) {
    auto t0 = now_us();
    ASSERT_TRUE(producer.produce(o.messages(), "k" + std::to_string(i), "v", d.callback()).ok());
    worst = std::max(worst, now_us() - t0);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_LT(worst, 50'000) << "produce() blocked";
  EXPECT_EQ(d.got().size(), 0u) << "a paused broker acknowledged";
  ASSERT_TRUE(RealKafka::instance->script("resume 1"));
  // Every record is answered: appended late, or an error (message.timeout.ms=10 s).
  ASSERT_TRUE(d.wait(50, 30000)) << d.got().size() << " of 50 answered";
  int ok = 0;
  for (const auto& r : d.got()) ok += r.ok;
  std::printf("after the pause: %d of 50 appended late, %d failed\n", ok, 50 - ok);
}

TEST(KafkaBroker, TailLatency) {
  auto o = options("latency");
  ensure_topics(o);
  std::mutex mu;
  std::map<std::string, int64_t> arrived;
  KafkaTail tail(o, o.messages(), {},
                 {[&](std::vector<Consumed>&& batch) {
                    auto t = now_us();
                    std::lock_guard lock(mu);
                    for (const auto& c : batch) arrived[c.value] = t;
                  },
                  nullptr});
  ASSERT_TRUE(eventually([&] { return tail.caught_up(); }, 10000));
  KafkaProducer producer(o);
  // Warm up: the producer's first record waits for its idempotence id (seconds on a fresh
  // broker, "coordinator load in progress"); steady state is what matters.
  Deliveries warm;
  ASSERT_TRUE(producer.produce(o.messages(), "warm", "warm", warm.callback()).ok());
  ASSERT_TRUE(warm.wait(1));
  ASSERT_TRUE(eventually(
      [&] {
        std::lock_guard lock(mu);
        return arrived.count("warm") == 1;
      },
      5000));
  {
    std::lock_guard lock(mu);
    arrived.clear();
  }
  std::map<std::string, int64_t> sent;
  for (int i = 0; i < 200; ++i) {
    std::string v = "v" + std::to_string(i);
    sent[v] = now_us();
    ASSERT_TRUE(producer.produce(o.messages(), "room" + std::to_string(i % 17), v, nullptr).ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_TRUE(eventually(
      [&] {
        std::lock_guard lock(mu);
        return arrived.size() == sent.size();
      },
      10000));
  std::vector<int64_t> lat;
  std::string slow;
  for (const auto& [v, t] : sent) {
    lat.push_back(arrived[v] - t);
    if (lat.back() > 100'000) slow += " " + v;
  }
  if (!slow.empty()) std::printf("over 100 ms:%s\n", slow.c_str());
  std::sort(lat.begin(), lat.end());
  std::printf(
      "real broker produce->tail latency (linger 2, fetch.wait 10): p50 %.1f ms, p99 %.1f "
      "ms, max %.1f ms\n",
      lat[lat.size() / 2] / 1000.0, lat[lat.size() * 99 / 100] / 1000.0, lat.back() / 1000.0);
  EXPECT_LT(lat[lat.size() / 2], 200'000);
}

}  // namespace
}  // namespace parley
