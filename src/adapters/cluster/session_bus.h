#pragma once
// The cluster's SessionBus on the results topic, keyed by user and session so one session's
// records keep their order. Every instance tails the whole topic; records older than
// max_age_ms (a restart re-reading the topic) are skipped, as the session registry would have
// dropped them anyway.
#include <memory>
#include <string>

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
                  ClockPtr clock, int64_t max_age_ms = 60000);
  ~KafkaSessionBus() override;

  void start();
  void stop();

  void publish_result(const std::string& user, const std::string& session,
                      const std::string& frame) override;
  void publish_claim(const std::string& user, const std::string& session, int64_t at_ms) override;
  void subscribe(Handlers handlers) override { handlers_ = std::move(handlers); }

 private:
  void on_records(std::vector<Consumed>&& records);
  void publish(const std::string& user, const std::string& session, const char* type,
               const std::string& frame, int64_t at_ms);

  std::string instance_;
  KafkaOptions kafka_;
  std::shared_ptr<KafkaProducer> producer_;
  ClockPtr clock_;
  int64_t max_age_ms_;
  Handlers handlers_;
  std::unique_ptr<KafkaTail> tail_;
};

}  // namespace parley
