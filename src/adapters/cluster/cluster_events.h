#pragma once
// Ephemeral room traffic across instances, on the events topic: typing, and who is online.
//
// It decorates the gateway's local fan-out (RoomEvents). Typing is published for the other
// instances and fanned out here. Presence travels as heartbeats: each instance publishes its
// whole online set (room, user) every heartbeat_ms, and at once (debounced) when it changes;
// ClusterPresence turns the sets into member events, once per transition. An instance that
// stops (kill -9 included) is dropped after ClusterPresence's timeout, and its users leave.
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>

#include "adapters/kafka/consumed.h"
#include "adapters/kafka/kafka_config.h"
#include "adapters/kafka/kafka_producer.h"
#include "adapters/kafka/kafka_tail.h"
#include "app/cluster/cluster_presence.h"
#include "app/ports/clock.h"
#include "app/ports/remote_presence.h"
#include "app/ports/room_events.h"
#include "app/rate_limiter.h"

namespace parley {

struct ClusterEventsOptions {
  std::string instance;         // this process (the origin nonce included)
  int64_t heartbeat_ms = 2000;  // the online set is published at least this often
  int64_t debounce_ms = 50;     // and at most this often when it changes
  int64_t instance_timeout_ms = 6000;
  int64_t max_age_ms = 10000;  // older events (a restart re-reading the topic) are ignored
  int64_t usage_ms = 250;      // how often the sends counted here are published
};

class ClusterEvents final : public RoomEvents, public RemotePresence {
 public:
  ClusterEvents(ClusterEventsOptions options, KafkaOptions kafka,
                std::shared_ptr<KafkaProducer> producer, ClockPtr clock);
  ~ClusterEvents() override;

  /// Starts tailing the events topic and publishing heartbeats; events go to @p local.
  void start(RoomEventsPtr local);
  /// Says goodbye (the others drop this instance at once) and stops.
  void stop();

  // RoomEvents: what happened here.
  void member_joined(const std::string& room, const std::string& user, uint64_t origin) override;
  void member_left(const std::string& room, const std::string& user, uint64_t origin) override;
  void typing(const std::string& room, const std::string& user, uint64_t origin) override;
  void room_created(const Room& room) override;

  // RemotePresence
  std::vector<std::string> online(const std::string& room) const override;

  /// Live instances, this one included (for /metrics).
  size_t live_instances() const;

  /// Shares @p limiter's counts with the other instances (every usage_ms) and charges theirs
  /// to it, so that a user's send quota holds across the cluster. Before start().
  void share_quota(RateLimiter* limiter) { quota_ = limiter; }

 private:
  void on_records(std::vector<Consumed>&& records);
  void publish(const std::string& key, std::string value);
  void heartbeat_loop();
  void announce(const std::vector<MemberChange>& changes);
  void publish_usage();

  ClusterEventsOptions options_;
  KafkaOptions kafka_;
  std::shared_ptr<KafkaProducer> producer_;
  ClockPtr clock_;
  RoomEventsPtr local_;
  RateLimiter* quota_ = nullptr;
  ClusterPresence presence_;
  std::unique_ptr<KafkaTail> tail_;

  std::mutex mu_;  // local_online_ and the heartbeat loop's wake-up
  std::condition_variable wake_;
  std::set<std::pair<std::string, std::string>> local_online_;
  bool changed_ = false;
  std::atomic<bool> stopping_{false};
  std::thread heartbeats_;
};

}  // namespace parley
