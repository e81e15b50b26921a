#pragma once
// The cluster's SessionBus on the results topic, keyed by user and session so one session's
// records (claims and results) keep their order. Every instance tails the whole topic, its own
// records included: it learns each session's home (the instance of its last claim) in log
// order, and when its own claims are read back. Records older than max_age_ms (a restart
// re-reading the topic) are skipped, as the session registry would have dropped them anyway.
//
// The homes are bounded: at most max_homes sessions, each forgotten max_age_ms after its last
// claim (the session keep time: a result kept that long is no longer delivered anyway).
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

#include <boost/json.hpp>

#include "adapters/kafka/consumed.h"
#include "adapters/kafka/kafka_config.h"
#include "adapters/kafka/kafka_producer.h"
#include "adapters/kafka/kafka_tail.h"
#include "app/ports/clock.h"
#include "app/ports/session_bus.h"

namespace parley {

class KafkaSessionBus final : public SessionBus {
 public:
  KafkaSessionBus(std::string instance, KafkaOptions kafka, std::shared_ptr<KafkaProducer> producer,
                  ClockPtr clock, int64_t max_age_ms = 60000, size_t max_homes = 1 << 20);
  ~KafkaSessionBus() override;

  void start();
  void stop();

  void publish_result(const std::string& user, const std::string& session, const std::string& frame,
                      const std::string& to) override;
  void publish_claim(const std::string& user, const std::string& session,
                     uint64_t connection) override;
  std::string home_elsewhere(const std::string& user, const std::string& session) override;
  void subscribe(Handlers handlers) override { handlers_ = std::move(handlers); }

 private:
  void on_records(std::vector<Consumed>&& records);
  void publish(const std::string& user, const std::string& session, boost::json::object o);
  void set_home(const std::string& key, const std::string& instance);
  struct Home {
    std::string instance;
    int64_t at_ms;  // steady clock, when its claim was read
  };

  std::string instance_;
  KafkaOptions kafka_;
  std::shared_ptr<KafkaProducer> producer_;
  ClockPtr clock_;
  int64_t max_age_ms_;
  Handlers handlers_;
  size_t max_homes_;
  // This process's claims only: connection ids start over when an instance restarts, and its
  // earlier incarnation's claims, re-read from the topic, must not confirm the new connections.
  std::string incarnation_;
  std::mutex homes_mutex_;
  std::unordered_map<std::string, Home> homes_;       // by user '\n' session
  std::deque<std::pair<std::string, int64_t>> ages_;  // claims read, oldest first, to expire homes
  std::unique_ptr<KafkaTail> tail_;
};

}  // namespace parley
