// The adapter against librdkafka's in-process mock cluster: fast, no broker to start. What the
// mock cannot do (CreateTopics, LogAppendTime, real group timings) is in kafka_broker_test.
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <map>
#include <mutex>
#include <set>

#include "adapters/kafka/kafka_admin.h"
#include "adapters/kafka/kafka_producer.h"
#include "adapters/kafka/kafka_range_reader.h"
#include "adapters/kafka/kafka_tail.h"
#include "adapters/kafka/record_mac.h"
#include "app/metrics.h"
#include "kafka_test_util.h"

namespace parley {
namespace {

using kafka_test::Deliveries;
using kafka_test::eventually;
using kafka_test::now_us;

constexpr int kPartitions = 8;

// One mock cluster (3 brokers) for the whole binary.
class MockCluster : public ::testing::Environment {
 public:
  static MockCluster* instance;
  void SetUp() override {
    KafkaConfPtr conf(rd_kafka_conf_new());
    set_kafka_property(conf.get(), "log_level", "3");
    rk_ = make_kafka_handle(RD_KAFKA_PRODUCER, std::move(conf));
    mc_ = rd_kafka_mock_cluster_new(rk_.get(), 3);
    ASSERT_NE(mc_, nullptr);
    bootstrap_ = rd_kafka_mock_cluster_bootstraps(mc_);
  }
  void TearDown() override {
    if (mc_ != nullptr) rd_kafka_mock_cluster_destroy(mc_);
    rk_.reset();
  }
  // Options whose four topics exist (the mock has no CreateTopics).
  KafkaOptions topics(const std::string& name) {
    KafkaOptions o;
    o.bootstrap = bootstrap_;
    o.topic_prefix = kafka_test::unique_prefix(name);
    o.partitions = kPartitions;
    for (const auto& t : {o.messages(), o.results(), o.events(), o.dlq()}) {
      EXPECT_EQ(rd_kafka_mock_topic_create(mc_, t.c_str(), kPartitions, 3),
                RD_KAFKA_RESP_ERR_NO_ERROR);
    }
    return o;
  }
  const std::string& bootstrap() const { return bootstrap_; }

 private:
  KafkaHandlePtr rk_;
  rd_kafka_mock_cluster_t* mc_ = nullptr;
  std::string bootstrap_;
};
MockCluster* MockCluster::instance =
    static_cast<MockCluster*>(::testing::AddGlobalTestEnvironment(new MockCluster));

KafkaOptions topics(const std::string& name) {
  return MockCluster::instance->topics(name);
}

// Produces @p n records (keys key0..key{keys-1} in turn) and waits for every report.
std::vector<Delivery> produce_all(const KafkaOptions& o, const std::string& topic, int n,
                                  int keys) {
  KafkaProducer producer(o);
  Deliveries d;
  for (int i = 0; i < n; ++i) {
    EXPECT_TRUE(
        producer
            .produce(topic, "key" + std::to_string(i % keys), "v" + std::to_string(i), d.callback())
            .ok());
  }
  EXPECT_TRUE(d.wait(n));
  for (const auto& r : d.got()) EXPECT_TRUE(r.ok) << r.error;
  return d.got();
}

TEST(KafkaConfig, RefusesABadPropertyAtStartUp) {
  KafkaOptions o;
  o.bootstrap = MockCluster::instance->bootstrap();
  o.overrides = {{"no.such.property", "1"}};
  try {
    KafkaProducer p(o);
    FAIL() << "a bad property was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("no.such.property"), std::string::npos) << e.what();
  }
  o.overrides = {{"linger.ms", "not a number"}};
  EXPECT_THROW(KafkaProducer{o}, std::runtime_error);
  // A prefixed override applies to its kind of client only.
  o.overrides = {{"consumer.no.such.property", "1"}};
  EXPECT_NO_THROW(KafkaProducer{o});
  EXPECT_EQ(parse_kafka_property("a.b=c=d"), (KafkaProperty{"a.b", "c=d"}));
  EXPECT_THROW(parse_kafka_property("novalue"), std::invalid_argument);
  EXPECT_THROW(parse_kafka_property("=x"), std::invalid_argument);
}

TEST(KafkaConfig, TopicNamesCarryThePrefix) {
  KafkaOptions o;
  o.topic_prefix = "p.";
  EXPECT_EQ(o.messages(), "p.parley.messages");
  EXPECT_EQ(o.results(), "p.parley.results");
  EXPECT_EQ(o.events(), "p.parley.events");
  EXPECT_EQ(o.dlq(), "p.parley.dlq");
}

TEST(KafkaAdmin, DescribesTheTopicsAndSkipsCreationWhenAllExist) {
  auto o = topics("admin");
  auto d = describe(o);
  ASSERT_EQ(d.size(), 4u);
  for (const auto& [name, n] : d) EXPECT_EQ(n, kPartitions) << name;
  EXPECT_NO_THROW(ensure_topics(o, 5000));

  KafkaOptions missing = o;
  missing.topic_prefix = kafka_test::unique_prefix("absent");
  EXPECT_TRUE(describe(missing).empty());
  // The mock has no CreateTopics: within a short timeout, a clear error or (if the time left
  // allows) auto-creation; never a hang.
  auto t0 = now_us();
  try {
    ensure_topics(missing, 3000);
  } catch (const std::runtime_error&) {
  }
  EXPECT_LT(now_us() - t0, 8'000'000);
}

TEST(KafkaAdmin, WithoutCreateTopicsTheMissingTopicsAreLeftToAutoCreation) {
  // A demo on `parley kafka-mock` with a --topic-prefix of its own: CreateTopics never answers
  // there, so after its wait the topics are made by the cluster's auto-creation instead.
  KafkaOptions o = topics("auto");
  o.topic_prefix = kafka_test::unique_prefix("autocreated");
  ensure_topics(o, 30000);
  auto d = describe(o);
  EXPECT_EQ(d.size(), 4u);
  for (const auto& [name, n] : d) EXPECT_GT(n, 0) << name;
}

TEST(KafkaProducer, DeliveryReportCarriesPartitionAndOffset) {
  auto o = topics("dr");
  KafkaProducer producer(o);
  Deliveries d;
  ASSERT_TRUE(producer.produce(o.messages(), "room-a", "one", d.callback()).ok());
  ASSERT_TRUE(d.wait(1));
  ASSERT_TRUE(producer.produce(o.messages(), "room-a", "two", d.callback()).ok());
  ASSERT_TRUE(d.wait(2));
  auto got = d.got();
  ASSERT_TRUE(got[0].ok) << got[0].error;
  ASSERT_TRUE(got[1].ok) << got[1].error;
  EXPECT_EQ(got[0].partition, kafka_partition_for_key("room-a", kPartitions));
  EXPECT_EQ(got[1].partition, got[0].partition);
  EXPECT_EQ(got[0].offset, 0);
  EXPECT_EQ(got[1].offset, 1);
  EXPECT_GT(got[0].timestamp_ms, 0);
  EXPECT_FALSE(got[0].not_persisted);
  EXPECT_TRUE(eventually([&] { return producer.reachable(); }, 3000));
  EXPECT_TRUE(producer.flush(2000));
}

TEST(KafkaProducer, SameKeySamePartition) {
  auto o = topics("keys");
  KafkaProducer producer(o);
  Deliveries d;
  const int keys = 40, per_key = 5;
  std::vector<std::string> order;
  for (int round = 0; round < per_key; ++round) {
    for (int k = 0; k < keys; ++k) {
      std::string key = "room-" + std::to_string(k);
      ASSERT_TRUE(producer.produce(o.messages(), key, key, d.callback()).ok());
    }
  }
  ASSERT_TRUE(d.wait(keys * per_key));
  std::set<int32_t> used;
  std::map<int32_t, int> per_partition;
  for (const auto& r : d.got()) {
    ASSERT_TRUE(r.ok) << r.error;
    used.insert(r.partition);
    per_partition[r.partition]++;
  }
  EXPECT_GT(used.size(), 4u) << "40 keys over 8 partitions should spread";
  // Read every partition back: each record sits where murmur2 of its key says.
  KafkaRangeReader reader(o, o.messages());
  for (const auto& [p, n] : per_partition) {
    auto recs = reader.read(p, 0, n, 5000);
    ASSERT_TRUE(recs.ok()) << recs.error().message;
    for (const auto& c : *recs) {
      EXPECT_EQ(c.key, c.value);
      EXPECT_EQ(kafka_partition_for_key(c.key, kPartitions), p) << c.key;
    }
  }
}

TEST(KafkaProducer, FullQueueAnswersUnavailableAtOnce) {
  auto o = topics("full");
  // A tiny queue, and a linger long enough that nothing leaves it during the test.
  o.overrides = {{"queue.buffering.max.messages", "3"},
                 {"linger.ms", "5000"},
                 {"message.timeout.ms", "30000"}};
  KafkaProducer producer(o);
  Deliveries d;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(producer.produce(o.messages(), "k", "v", d.callback()).ok()) << i;
  }
  auto t0 = now_us();
  auto full = producer.produce(o.messages(), "k", "v", d.callback());
  auto took_us = now_us() - t0;
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error().code, Errc::unavailable);
  EXPECT_LT(took_us, 50'000);
  producer.stop(0);  // purges: the three queued records are answered, the refused one is not
  auto got = d.got();
  EXPECT_EQ(got.size(), 3u);
  for (const auto& r : got) EXPECT_FALSE(r.ok);
}

TEST(KafkaProducer, PurgedRecordsComeBackNotPersisted) {
  auto o = topics("purge");
  o.overrides = {{"linger.ms", "5000"}, {"message.timeout.ms", "30000"}};
  KafkaProducer producer(o);
  Deliveries d;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(producer.produce(o.messages(), "k" + std::to_string(i), "v", d.callback()).ok());
  }
  auto t0 = now_us();
  producer.purge_queued();
  ASSERT_TRUE(d.wait(5, 3000));
  EXPECT_LT(now_us() - t0, 1'000'000);
  for (const auto& r : d.got()) {
    EXPECT_FALSE(r.ok);
    EXPECT_TRUE(r.not_persisted) << r.error;
    EXPECT_EQ(r.code, Errc::timeout);
  }
}

// A fatal error (as librdkafka's idempotent producer raises it) leaves a handle that refuses
// every record: the producer replaces it by itself, answers what the old one held, is not
// reachable() meanwhile, and takes records again.
TEST(KafkaProducer, AFatalErrorReplacesTheHandleAndAnswersWhatItHeld) {
  auto o = topics("fatal");
  o.overrides = {{"linger.ms", "3000"}};
  KafkaProducer producer(o, o.messages());
  ASSERT_TRUE(eventually([&] { return producer.reachable(); }, 5000));
  Deliveries held;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(producer.produce(o.messages(), "k" + std::to_string(i), "v", held.callback()).ok());
  }
  auto t0 = now_us();
  producer.inject_fatal_error("unit test");
  ASSERT_TRUE(held.wait(5, 3000));
  EXPECT_LT(now_us() - t0, 2'000'000);
  for (const auto& r : held.got()) EXPECT_FALSE(r.ok);
  ASSERT_TRUE(eventually([&] { return producer.recreated() == 1; }, 3000));
  ASSERT_TRUE(eventually([&] { return producer.reachable(); }, 5000));
  Deliveries after;
  ASSERT_TRUE(producer.produce(o.messages(), "k", "v", after.callback()).ok());
  ASSERT_TRUE(after.wait(1, 10000));
  EXPECT_TRUE(after.got()[0].ok) << after.got()[0].error;
}

TEST(KafkaProducer, UnreachableClusterIsNotReachableAndProduceDoesNotBlock) {
  KafkaOptions o;
  o.bootstrap = "127.0.0.1:1";
  o.overrides = {{"message.timeout.ms", "1000"}};
  KafkaProducer producer(o);
  Deliveries d;
  auto t0 = now_us();
  ASSERT_TRUE(producer.produce("nowhere", "k", "v", d.callback()).ok());
  EXPECT_LT(now_us() - t0, 50'000);
  EXPECT_FALSE(producer.wait_reachable(300));
  ASSERT_TRUE(d.wait(1, 5000));
  EXPECT_FALSE(d.got()[0].ok);
  EXPECT_EQ(d.got()[0].code, Errc::timeout);
  EXPECT_FALSE(producer.reachable());
}

// Records handed to a tail, by partition.
struct Sink {
  std::mutex mu;
  std::map<int32_t, std::vector<Consumed>> by_partition;
  size_t count = 0;
  std::vector<std::pair<Errc, std::string>> errors;
  TailCallbacks callbacks() {
    return {[this](std::vector<Consumed>&& batch) {
              std::lock_guard lock(mu);
              for (auto& c : batch) {
                by_partition[c.partition].push_back(std::move(c));
                ++count;
              }
            },
            [this](int32_t, Errc code, const std::string& e) {
              std::lock_guard lock(mu);
              errors.emplace_back(code, e);
            }};
  }
  size_t size() {
    std::lock_guard lock(mu);
    return count;
  }
};

TEST(KafkaTail, ReadsEveryPartitionInOrderAndCatchesUp) {
  auto o = topics("tail");
  const int n = 400;
  auto reports = produce_all(o, o.messages(), n, 25);
  std::map<int32_t, int64_t> high;
  for (const auto& r : reports) high[r.partition] = std::max(high[r.partition], r.offset + 1);

  Sink sink;
  std::atomic<size_t> seen_when_caught_up{0};
  KafkaTail tail(o, o.messages(), {}, sink.callbacks());
  EXPECT_EQ(tail.partitions(), kPartitions);
  for (const auto& [p, h] : high) EXPECT_EQ(tail.start_high().at(p), h);
  ASSERT_TRUE(eventually([&] { return tail.caught_up(); }, 10000));
  seen_when_caught_up = sink.size();
  // caught_up never runs ahead of what the sink was given.
  EXPECT_EQ(seen_when_caught_up.load(), size_t(n));
  {
    std::lock_guard lock(sink.mu);
    for (const auto& [p, recs] : sink.by_partition) {
      for (size_t i = 0; i < recs.size(); ++i) EXPECT_EQ(recs[i].offset, int64_t(i)) << p;
      // Values of one key keep their produce order.
      std::map<std::string, int> last;
      for (const auto& c : recs) {
        int v = std::stoi(c.value.substr(1));
        auto it = last.find(c.key);
        if (it != last.end()) {
          EXPECT_GT(v, it->second);
        }
        last[c.key] = v;
      }
    }
  }
  auto pos = tail.positions();
  for (int32_t p = 0; p < kPartitions; ++p) EXPECT_EQ(pos[p], high.count(p) ? high[p] : 0);

  // Later records arrive too; measure produce -> tail latency while at it.
  KafkaProducer producer(o);
  std::vector<int64_t> lat;
  for (int i = 0; i < 50; ++i) {
    size_t before = sink.size();
    auto t0 = now_us();
    ASSERT_TRUE(producer.produce(o.messages(), "late", "v" + std::to_string(n + i), nullptr).ok());
    ASSERT_TRUE(eventually([&] { return sink.size() > before; }, 5000));
    lat.push_back(now_us() - t0);
  }
  std::sort(lat.begin(), lat.end());
  std::printf("mock produce->tail latency: p50 %.1f ms, p90 %.1f ms, max %.1f ms\n",
              lat[lat.size() / 2] / 1000.0, lat[lat.size() * 9 / 10] / 1000.0, lat.back() / 1000.0);
  EXPECT_TRUE(sink.errors.empty());
  tail.stop();
}

TEST(KafkaTail, StartsAtTheGivenOffsets) {
  auto o = topics("tailstart");
  auto reports = produce_all(o, o.events(), 60, 1);  // one key: one partition, offsets 0..59
  int32_t p = reports[0].partition;
  Sink sink;
  KafkaTail tail(o, o.events(), {{p, 50}}, sink.callbacks());
  ASSERT_TRUE(eventually([&] { return tail.caught_up(); }, 10000));
  std::lock_guard lock(sink.mu);
  ASSERT_EQ(sink.count, 10u);
  EXPECT_EQ(sink.by_partition[p].front().offset, 50);
  EXPECT_EQ(sink.by_partition[p].back().offset, 59);
}

TEST(KafkaTail, ReadsOnlyTheGivenPartitionsAndThoseAddedLater) {
  auto o = topics("tailscope");
  auto reports = produce_all(o, o.messages(), 200, 25);
  std::map<int32_t, int64_t> high;
  for (const auto& r : reports) high[r.partition] = std::max(high[r.partition], r.offset + 1);
  ASSERT_GE(high.size(), 2u);
  const int32_t first = high.begin()->first;
  const int32_t later = std::next(high.begin())->first;

  Sink sink;
  KafkaTail tail(o, o.messages(), {{first, 0}}, sink.callbacks(), 10000, {},
                 TailScope::given_partitions);
  EXPECT_EQ(tail.assigned(), 1u);
  ASSERT_TRUE(eventually([&] { return tail.caught_up(); }, 10000));
  ASSERT_TRUE(eventually([&] { return sink.size() == size_t(high[first]); }, 10000));
  {
    std::lock_guard lock(sink.mu);
    EXPECT_EQ(sink.by_partition.size(), 1u) << "records of a partition it was not given";
  }

  // Added from the middle: its records from there on, in order; the first one goes on.
  const int64_t from = high[later] / 2;
  EXPECT_TRUE(tail.add(later, from));
  EXPECT_FALSE(tail.add(later, 0)) << "a partition read already is not added twice";
  EXPECT_FALSE(tail.add(kPartitions, 0)) << "no such partition";
  EXPECT_EQ(tail.assigned(), 2u);
  ASSERT_TRUE(
      eventually([&] { return sink.size() == size_t(high[first] + high[later] - from); }, 10000));
  std::string key;  // one of the added partition's
  for (int k = 0; key.empty() && k < 1000; ++k) {
    if (kafka_partition_for_key("key" + std::to_string(k), kPartitions) == later) {
      key = "key" + std::to_string(k);
    }
  }
  KafkaProducer producer(o);
  ASSERT_TRUE(producer.produce(o.messages(), key, "after", nullptr).ok());
  ASSERT_TRUE(eventually(
      [&] { return sink.size() == size_t(high[first] + high[later] - from + 1); }, 10000));
  std::lock_guard lock(sink.mu);
  const auto& added = sink.by_partition[later];
  ASSERT_FALSE(added.empty());
  EXPECT_EQ(added.front().offset, from);
  for (size_t i = 1; i < added.size(); ++i) EXPECT_EQ(added[i].offset, added[i - 1].offset + 1);
  EXPECT_EQ(sink.by_partition.size(), 2u);
  EXPECT_TRUE(sink.errors.empty());
}

TEST(KafkaTail, EmptyTopicIsCaughtUpAtOnce) {
  auto o = topics("tailempty");
  Sink sink;
  KafkaTail tail(o, o.results(), {}, sink.callbacks());
  EXPECT_TRUE(tail.caught_up());
  KafkaOptions none = o;
  none.topic_prefix = kafka_test::unique_prefix("none");
  EXPECT_THROW(KafkaTail(none, none.results() + ".absent", {}, sink.callbacks(), 3000),
               std::runtime_error);
}

TEST(KafkaRangeReader, ReadsExactlyTheHalfOpenRange) {
  auto o = topics("range");
  auto reports = produce_all(o, o.messages(), 30, 1);
  int32_t p = reports[0].partition;
  KafkaRangeReader reader(o, o.messages());
  auto t0 = now_us();
  auto r = reader.read(p, 10, 20, 5000);
  std::printf("range read of 10 records: %.1f ms\n", (now_us() - t0) / 1000.0);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 10u);
  for (size_t i = 0; i < r->size(); ++i) {
    EXPECT_EQ((*r)[i].offset, int64_t(10 + i));
    EXPECT_EQ((*r)[i].value, "v" + std::to_string(10 + i));
    EXPECT_EQ((*r)[i].partition, p);
  }
  auto all = reader.read(p, 0, 30, 5000);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 30u);
  auto empty = reader.read(p, 7, 7, 100);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  auto bad = reader.read(p, 8, 7, 100);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, Errc::bad_request);
  // Past the end of the log: times out rather than returning a short range.
  t0 = now_us();
  auto past = reader.read(p, 25, 40, 500);
  ASSERT_FALSE(past.ok());
  EXPECT_EQ(past.error().code, Errc::timeout);
  EXPECT_LT(now_us() - t0, 3'000'000);
}

// A history page past the persister: the fold knows which offsets are the room's messages, and
// the reader fetches exactly those, seeking over wide gaps, with one pooled consumer for all
// the pages (not one per page).
TEST(KafkaRangeReader, ReadsExactlyTheOffsetsAskedForWithOnePooledConsumer) {
  auto o = topics("offsets");
  auto reports = produce_all(o, o.messages(), 3000, 1);
  int32_t p = reports[0].partition;
  KafkaRangeReader reader(o, o.messages());
  // Runs close together, then offsets far apart (a seek each), then the log's last record.
  std::vector<int64_t> want = {3, 4, 5, 9, 200, 201, 1500, 2600, 2999};
  for (int page = 0; page < 5; ++page) {
    auto t0 = now_us();
    auto r = reader.read_offsets(p, want, 5000, /*max_gap=*/100);
    if (page == 0)
      std::printf("read_offsets of %zu records: %.1f ms\n", want.size(), (now_us() - t0) / 1000.0);
    ASSERT_TRUE(r.ok()) << r.error().message;
    ASSERT_EQ(r->size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ((*r)[i].offset, want[i]);
      EXPECT_EQ((*r)[i].value, "v" + std::to_string(want[i]));
    }
  }
  auto range = reader.read(p, 100, 110, 5000);
  ASSERT_TRUE(range.ok()) << range.error().message;
  EXPECT_EQ(range->size(), 10u);
  EXPECT_EQ(reader.consumers_made(), 1u) << "each page made its own consumer";
  auto none = reader.read_offsets(p, {}, 100);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  // An offset not written yet: times out, and the next read still works.
  auto past = reader.read_offsets(p, {2998, 3500}, 500);
  ASSERT_FALSE(past.ok());
  EXPECT_EQ(past.error().code, Errc::timeout);
  auto again = reader.read_offsets(p, {0, 2999}, 5000);
  ASSERT_TRUE(again.ok()) << again.error().message;
  ASSERT_EQ(again->size(), 2u);
  EXPECT_EQ((*again)[1].value, "v2999");
}

// Every record a keyed producer writes carries its MAC, and every reader marks what it reads:
// authentic only if the MAC verifies under its key for that topic, key and value. The others
// are still handed over (the fold moves its position past them), marked, and counted.
TEST(RecordMac, ReadersMarkWhatCarriesNoValidMac) {
  auto o = topics("mac");
  RecordMac::Key k;
  k.fill(1);
  o.mac = std::make_shared<const RecordMac>(k);
  KafkaOptions unkeyed = o;
  unkeyed.mac = nullptr;
  KafkaOptions other = o;
  k.fill(2);
  other.mac = std::make_shared<const RecordMac>(k);

  // One key, so one partition, in this order: genuine, no header, another key, then records
  // written by hand with a MAC of another topic or of another value, then genuine again.
  produce_all(o, o.messages(), 3, 1);
  produce_all(unkeyed, o.messages(), 2, 1);
  produce_all(other, o.messages(), 2, 1);
  {
    KafkaConfPtr conf(rd_kafka_conf_new());
    set_kafka_property(conf.get(), "bootstrap.servers", o.bootstrap);
    set_kafka_property(conf.get(), "partitioner", "murmur2_random");  // as KafkaProducer
    KafkaHandlePtr rk = make_kafka_handle(RD_KAFKA_PRODUCER, std::move(conf));
    auto forge = [&](std::string value, const RecordMac::Tag& tag) {
      ASSERT_EQ(
          rd_kafka_producev(
              rk.get(), RD_KAFKA_V_TOPIC(o.messages().c_str()), RD_KAFKA_V_KEY("key0", 4),
              RD_KAFKA_V_VALUE(value.data(), value.size()),
              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
              RD_KAFKA_V_HEADER(RecordMac::kHeader, tag.data(), static_cast<ssize_t>(tag.size())),
              RD_KAFKA_V_END),
          RD_KAFKA_RESP_ERR_NO_ERROR);
    };
    forge("v0", o.mac->sign(o.results(), "key0", "v0"));   // replayed from another topic
    forge("v9", o.mac->sign(o.messages(), "key0", "v0"));  // another value
    ASSERT_EQ(rd_kafka_flush(rk.get(), 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  auto last = produce_all(o, o.messages(), 1, 1);
  const int32_t p = last[0].partition;
  const std::vector<bool> want = {true, true, true, false, false, false, false, false, false, true};

  auto& rejected = Metrics::global().records_rejected_total[0];
  const uint64_t before = rejected.load();
  Sink sink;
  KafkaTail tail(o, o.messages(), {}, sink.callbacks());
  ASSERT_TRUE(eventually([&] { return tail.caught_up(); }, 10000));
  {
    std::lock_guard lock(sink.mu);
    const auto& recs = sink.by_partition[p];
    ASSERT_EQ(recs.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(recs[i].authentic, want[i]) << i;
  }
  EXPECT_EQ(tail.positions()[p], int64_t(want.size()));  // read past the forged ones
  EXPECT_EQ(rejected.load(), before + 6);
  tail.stop();

  KafkaRangeReader reader(o, o.messages());
  auto r = reader.read(p, 0, int64_t(want.size()), 5000);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ((*r)[i].authentic, want[i]) << i;

  // A reader with no key trusts nothing.
  KafkaRangeReader blind(unkeyed, o.messages());
  auto b = blind.read(p, 0, 1, 5000);
  ASSERT_TRUE(b.ok()) << b.error().message;
  ASSERT_EQ(b->size(), 1u);
  EXPECT_FALSE((*b)[0].authentic);
}

}  // namespace
}  // namespace parley
