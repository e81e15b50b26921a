#include "adapters/cluster/cluster_events.h"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <chrono>

#include "adapters/cluster/bus_json.h"

namespace parley {

namespace json = boost::json;

ClusterEvents::ClusterEvents(ClusterEventsOptions options, KafkaOptions kafka,
                             std::shared_ptr<KafkaProducer> producer, ClockPtr clock)
    : options_(std::move(options)),
      kafka_(std::move(kafka)),
      producer_(std::move(producer)),
      clock_(std::move(clock)),
      presence_(ClusterPresence::Options{options_.instance, options_.instance_timeout_ms}) {}

ClusterEvents::~ClusterEvents() {
  stop();
}

void ClusterEvents::start(RoomEventsPtr local) {
  local_ = std::move(local);
  // Only what is recent matters; older records are skipped by their timestamp.
  tail_ = tail_from_beginning(
      kafka_, kafka_.events(),
      [this](std::vector<Consumed>&& records) { on_records(std::move(records)); }, "events");
  heartbeats_ = std::thread([this] { heartbeat_loop(); });
}

void ClusterEvents::stop() {
  if (stopping_.exchange(true)) return;
  wake_.notify_all();
  if (heartbeats_.joinable()) heartbeats_.join();
  if (tail_) {
    publish(options_.instance, json::serialize(json::object{{"t", "b"}, {"o", options_.instance}}));
    tail_->stop();
  }
}

void ClusterEvents::publish(const std::string& key, std::string value) {
  // Fire and forget: an event lost while Kafka is away is repaired by the next heartbeat.
  Status st = producer_->produce(kafka_.events(), key, std::move(value), [](const Delivery&) {});
  if (!st) spdlog::debug("event not published: {}", st.error().message);
}

void ClusterEvents::member_joined(const std::string& room, const std::string& user,
                                  uint64_t origin) {
  {
    std::lock_guard lock(mu_);
    local_online_.emplace(room, user);
    changed_ = true;
  }
  wake_.notify_all();
  if (presence_.local_joined(room, user)) local_->member_joined(room, user, origin);
}

void ClusterEvents::member_left(const std::string& room, const std::string& user, uint64_t origin) {
  {
    std::lock_guard lock(mu_);
    local_online_.erase({room, user});
    changed_ = true;
  }
  wake_.notify_all();
  if (presence_.local_left(room, user)) local_->member_left(room, user, origin);
}

void ClusterEvents::typing(const std::string& room, const std::string& user, uint64_t origin) {
  local_->typing(room, user, origin);
  publish(room, json::serialize(
                    json::object{{"t", "y"}, {"o", options_.instance}, {"r", room}, {"u", user}}));
}

void ClusterEvents::room_created(const Room& room) {
  // Every instance folds the same log and announces it itself.
  local_->room_created(room);
}

std::vector<std::string> ClusterEvents::online(const std::string& room) const {
  return presence_.online(room);
}

size_t ClusterEvents::live_instances() const {
  return presence_.live_instances(clock_->now_ms()) + 1;
}

void ClusterEvents::announce(const std::vector<MemberChange>& changes) {
  for (const auto& c : changes) {
    if (c.kind == MemberChange::Kind::joined) {
      local_->member_joined(c.room, c.user, 0);
    } else {
      local_->member_left(c.room, c.user, 0);
    }
  }
}

void ClusterEvents::on_records(std::vector<Consumed>&& records) {
  int64_t now = clock_->now_ms();
  for (const Consumed& c : records) {
    auto value = bus_json::recent_object(c, now, options_.max_age_ms);
    if (!value) continue;
    const json::object& o = *value;
    auto str = [&](const char* k) { return bus_json::text(o, k); };
    std::string type = str("t");
    std::string origin = str("o");
    if (origin.empty() || origin == options_.instance) continue;
    if (type == "y") {
      local_->typing(str("r"), str("u"), 0);
    } else if (type == "u" && quota_) {
      if (const json::value* q = o.if_contains("q"); q && q->is_array()) {
        int64_t steady = clock_->steady_ms();
        for (const auto& e : q->as_array()) {
          if (!e.is_array() || e.as_array().size() != 2 || !e.as_array()[0].is_string() ||
              !e.as_array()[1].is_int64()) {
            continue;
          }
          quota_->charge(std::string(e.as_array()[0].as_string()),
                         static_cast<double>(e.as_array()[1].as_int64()), steady);
        }
      }
    } else if (type == "b") {
      announce(presence_.forget(origin));
    } else if (type == "h") {
      std::vector<ClusterPresence::Pair> pairs;
      if (const json::value* on = o.if_contains("on"); on && on->is_array()) {
        for (const auto& p : on->as_array()) {
          if (!p.is_array() || p.as_array().size() != 2 || !p.as_array()[0].is_string() ||
              !p.as_array()[1].is_string()) {
            continue;
          }
          pairs.emplace_back(std::string(p.as_array()[0].as_string()),
                             std::string(p.as_array()[1].as_string()));
        }
      }
      // The record's time, not ours: a heartbeat re-read late is already old.
      announce(presence_.heartbeat(origin, c.timestamp_ms, std::move(pairs)));
    }
  }
}

void ClusterEvents::publish_usage() {
  json::array q;
  for (auto& [user, n] : quota_->take_usage()) q.push_back(json::array{user, n});
  if (q.empty()) return;
  publish(options_.instance,
          json::serialize(json::object{{"t", "u"}, {"o", options_.instance}, {"q", std::move(q)}}));
}

void ClusterEvents::heartbeat_loop() {
  int64_t last_sent = 0;
  int64_t last_usage = 0;
  if (quota_) quota_->count_usage();
  while (!stopping_.load()) {
    json::array on;
    {
      std::unique_lock lock(mu_);
      wake_.wait_for(lock, std::chrono::milliseconds(options_.debounce_ms));
      if (stopping_.load()) break;
      if (quota_ && clock_->steady_ms() - last_usage >= options_.usage_ms) {
        last_usage = clock_->steady_ms();
        lock.unlock();
        publish_usage();
        lock.lock();
      }
      int64_t due = last_sent + (changed_ ? options_.debounce_ms : options_.heartbeat_ms);
      if (clock_->steady_ms() < due) continue;
      changed_ = false;
      for (const auto& [room, user] : local_online_) on.push_back(json::array{room, user});
    }
    last_sent = clock_->steady_ms();
    publish(options_.instance, json::serialize(json::object{
                                   {"t", "h"}, {"o", options_.instance}, {"on", std::move(on)}}));
    // Silent instances leave, and their users with them.
    announce(presence_.expire(clock_->now_ms()));
  }
}

}  // namespace parley
