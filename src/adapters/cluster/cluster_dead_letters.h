#pragma once
// Dead letters of a cluster: each expired command is recorded in PostgreSQL's dead_letters
// table and produced to the dlq topic, where operators' tools can follow them. The record
// carries the expired command's trace (the caller's log scope) in its traceparent header, under
// its MAC, as the command's own records do.
#include <boost/json.hpp>
#include <memory>
#include <string>

#include "adapters/kafka/kafka_config.h"
#include "adapters/kafka/kafka_producer.h"
#include "adapters/postgres/pg_store.h"
#include "app/ports/dead_letters.h"
#include "runtime/log_trace.h"

namespace parley {

class ClusterDeadLetters final : public DeadLetters {
 public:
  ClusterDeadLetters(std::string instance, KafkaOptions kafka,
                     std::shared_ptr<KafkaProducer> producer, std::shared_ptr<PgStore> store)
      : instance_(std::move(instance)),
        kafka_(std::move(kafka)),
        producer_(std::move(producer)),
        store_(std::move(store)) {}

  void record(DeadLetter letter) override {
    boost::json::object value{{"instance", instance_},     {"session", letter.session},
                              {"user", letter.user},       {"op", letter.op},
                              {"payload", letter.payload}, {"reason", letter.reason},
                              {"at_ms", letter.at_ms}};
    std::string traceparent;
    if (const TraceContext* t = LogTraceScope::current()) {
      auto header = t->header();
      traceparent.assign(header.data(), header.size());
    }
    produce(letter.user, boost::json::serialize(value), std::move(traceparent), kAttempts);
    store_->record(std::move(letter));
  }

 private:
  // Dead letters share the producer with sends, whose expired records the log purges from the
  // local queue while Kafka is away: a purged or timed-out dead letter is queued again, a few
  // times, so that one reaches the topic once Kafka is back.
  static constexpr int kAttempts = 10;

  void produce(std::string key, std::string value, std::string traceparent, int attempts_left) {
    Status st = producer_->produce(
        kafka_.dlq(), key, value,
        [this, key, value, traceparent, attempts_left](const Delivery& d) {
          if (!d.ok && d.not_persisted && attempts_left > 1)
            produce(key, value, traceparent, attempts_left - 1);
        },
        traceparent);
    (void)st;  // a full queue: PostgreSQL's row is the record that stays
  }

  std::string instance_;
  KafkaOptions kafka_;
  std::shared_ptr<KafkaProducer> producer_;
  std::shared_ptr<PgStore> store_;
};

}  // namespace parley
