#include "adapters/cluster/session_bus.h"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>

#include "adapters/cluster/bus_json.h"

namespace parley {

namespace json = boost::json;

KafkaSessionBus::KafkaSessionBus(std::string instance, KafkaOptions kafka,
                                 std::shared_ptr<KafkaProducer> producer, ClockPtr clock,
                                 int64_t max_age_ms)
    : instance_(std::move(instance)),
      kafka_(std::move(kafka)),
      producer_(std::move(producer)),
      clock_(std::move(clock)),
      max_age_ms_(max_age_ms) {}

KafkaSessionBus::~KafkaSessionBus() {
  stop();
}

void KafkaSessionBus::start() {
  tail_ = tail_from_beginning(
      kafka_, kafka_.results(),
      [this](std::vector<Consumed>&& records) { on_records(std::move(records)); }, "results");
}

void KafkaSessionBus::stop() {
  if (tail_) tail_->stop();
}

void KafkaSessionBus::publish(const std::string& user, const std::string& session, const char* type,
                              const std::string& frame, int64_t at_ms) {
  json::object o{{"t", type}, {"o", instance_}, {"u", user}, {"s", session}, {"at", at_ms}};
  if (!frame.empty()) o["f"] = frame;
  Status st = producer_->produce(kafka_.results(), user + '\n' + session, json::serialize(o),
                                 [](const Delivery&) {});
  if (!st) spdlog::debug("session bus: not published: {}", st.error().message);
}

void KafkaSessionBus::publish_result(const std::string& user, const std::string& session,
                                     const std::string& frame) {
  publish(user, session, "r", frame, clock_->now_ms());
}

void KafkaSessionBus::publish_claim(const std::string& user, const std::string& session,
                                    int64_t at_ms) {
  publish(user, session, "c", {}, at_ms);
}

void KafkaSessionBus::on_records(std::vector<Consumed>&& records) {
  int64_t now = clock_->now_ms();
  for (const Consumed& c : records) {
    auto value = bus_json::recent_object(c, now, max_age_ms_);
    if (!value) continue;
    const json::object& o = *value;
    auto str = [&](const char* k) { return bus_json::text(o, k); };
    if (str("o") == instance_) continue;
    std::string type = str("t");
    std::string user = str("u");
    std::string session = str("s");
    if (user.empty() || session.empty()) continue;
    if (type == "r" && handlers_.result) {
      handlers_.result(user, session, str("f"));
    } else if (type == "c" && handlers_.claimed) {
      const json::value* at = o.if_contains("at");
      handlers_.claimed(user, session, at && at->is_int64() ? at->as_int64() : c.timestamp_ms);
    }
  }
}

}  // namespace parley
