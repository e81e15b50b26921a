#include "adapters/cluster/session_bus.h"

#include <spdlog/spdlog.h>

#include <random>

#include <boost/json.hpp>

#include "adapters/cluster/bus_json.h"
#include "runtime/log_format.h"
#include "runtime/log_trace.h"

namespace parley {

namespace json = boost::json;

KafkaSessionBus::KafkaSessionBus(std::string instance, KafkaOptions kafka,
                                 std::shared_ptr<KafkaProducer> producer, ClockPtr clock,
                                 int64_t max_age_ms, size_t max_homes)
    : instance_(std::move(instance)),
      kafka_(std::move(kafka)),
      producer_(std::move(producer)),
      clock_(std::move(clock)),
      max_age_ms_(max_age_ms),
      max_homes_(max_homes),
      incarnation_(std::to_string(std::random_device{}()) + '-' +
                   std::to_string(clock_->steady_ms())) {}

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

void KafkaSessionBus::publish(const std::string& user, const std::string& session, json::object o) {
  o["o"] = instance_;
  o["u"] = user;
  o["s"] = session;
  // The trace of what this record is about (the command a result answers, the connection a
  // claim is for) goes with it, under its MAC: the receiver's lines about it name it too.
  std::array<char, TraceContext::kHeaderChars> header{};
  std::string_view traceparent;
  if (const TraceContext* t = LogTraceScope::current()) {
    header = t->header();
    traceparent = {header.data(), header.size()};
  }
  Status st = producer_->produce(
      kafka_.results(), user + '\n' + session, json::serialize(o), [](const Delivery&) {},
      traceparent);
  if (!st) spdlog::debug("session bus: not published: {}", st.error().message);
}

void KafkaSessionBus::publish_result(const std::string& user, const std::string& session,
                                     const std::string& frame, const std::string& to) {
  publish(user, session, json::object{{"t", "r"}, {"to", to}, {"f", frame}});
}

void KafkaSessionBus::publish_claim(const std::string& user, const std::string& session,
                                    uint64_t connection) {
  publish(user, session, json::object{{"t", "c"}, {"id", connection}, {"n", incarnation_}});
}

std::string KafkaSessionBus::home_elsewhere(const std::string& user, const std::string& session) {
  std::lock_guard lock(homes_mutex_);
  auto it = homes_.find(user + '\n' + session);
  if (it == homes_.end() || it->second.instance == instance_) return {};
  if (clock_->steady_ms() - it->second.at_ms > max_age_ms_) return {};
  return it->second.instance;
}

void KafkaSessionBus::set_home(const std::string& key, const std::string& instance) {
  int64_t now = clock_->steady_ms();
  std::lock_guard lock(homes_mutex_);
  homes_[key] = Home{instance, now};
  ages_.emplace_back(key, now);
  // Expired claims, and the oldest over the cap, are forgotten; a session claimed again since
  // keeps its newer home (its own later entry in ages_).
  while (!ages_.empty() &&
         (now - ages_.front().second > max_age_ms_ || ages_.size() > max_homes_)) {
    auto it = homes_.find(ages_.front().first);
    if (it != homes_.end() && it->second.at_ms == ages_.front().second) homes_.erase(it);
    ages_.pop_front();
  }
}

void KafkaSessionBus::on_records(std::vector<Consumed>&& records) {
  int64_t now = clock_->now_ms();
  for (const Consumed& c : records) {
    auto value = bus_json::recent_object(c, now, max_age_ms_);
    if (!value) continue;
    const json::object& o = *value;
    auto str = [&](const char* k) { return bus_json::text(o, k); };
    std::string type = str("t");
    std::string origin = str("o");
    std::string user = str("u");
    std::string session = str("s");
    if (user.empty() || session.empty() || origin.empty()) continue;
    // What the handlers log (and publish: a result forwarded again) is the record's trace.
    LogTraceScope scope(c.trace);
    if (type == "r") {
      // Addressed to one instance: the others ignore it (and so does its sender).
      if (str("to") != instance_ || !handlers_.result) continue;
      spdlog::debug("session bus: result for {} session {} from {} (partition {} offset {})",
                    log_safe(user), log_safe(session), log_safe(origin), c.partition, c.offset);
      handlers_.result(user, session, str("f"));
    } else if (type == "c") {
      spdlog::debug("session bus: claim of {} session {} by {} (partition {} offset {})",
                    log_safe(user), log_safe(session), log_safe(origin), c.partition, c.offset);
      // The home is set before the handlers run: a result kept here from now on sees it.
      set_home(user + '\n' + session, origin);
      if (origin != instance_) {
        if (handlers_.claimed) handlers_.claimed(user, session, origin);
      } else if (handlers_.confirmed && str("n") == incarnation_) {
        const json::value* id = o.if_contains("id");
        uint64_t connection = 0;
        if (id && id->is_uint64()) connection = id->as_uint64();
        if (id && id->is_int64() && id->as_int64() > 0) connection = uint64_t(id->as_int64());
        handlers_.confirmed(user, session, connection);
      }
    }
  }
}

}  // namespace parley
