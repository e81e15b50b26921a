#pragma once
// Ephemeral room traffic across instances, on the events topic: typing, and who is online.
//
// It decorates the gateway's local fan-out (RoomEvents). Typing is published for the other
// instances and fanned out here. Presence travels as numbered deltas of each instance's online
// (room, user) set, coalesced every debounce_ms; its whole set only in chunks, when another
// instance asks (it is new, or saw a gap); and a heartbeat every heartbeat_ms carrying the last
// delta number (PresenceOutbox). ClusterPresence turns them into member events, once per
// transition. An instance that stops (kill -9 included) is dropped after ClusterPresence's
// timeout, and its users leave. Records on the events topic (JSON; "o" is the publisher):
//   {"t":"d","o":..,"s":seq,"j":[[room,[user..]]..],"l":[[room,[user..]]..]}  delta
//   {"t":"s","o":..,"s":seq,"n":id,"i":index,"c":count,"p":[[room,[user..]]..]}  snapshot chunk
//   {"t":"h","o":..,"s":seq}  heartbeat;  {"t":"q","o":..,"i":instance or "*"}  snapshot request
//   {"t":"b","o":..}  goodbye;  {"t":"y",..} typing;  {"t":"u",..} quota usage
//   {"t":"c","o":..,"r":room,"k":kind,"b":creator,"m":[member..]}  a room created here
//   {"t":"a","o":..,"r":room,"u":user}  a member added here
// Presence records are keyed by the publisher's id: one partition, read in publishing order.
// Room changes are keyed by the room. They are the log's (the fold decided them), told here to
// the instances that do not read the room's partition of the log: so every connection hears of
// a new public room, and a directory learns an invitation before a refusal has to check.
//
// Traces: every record carries a `traceparent` header (under its MAC): the trace of the command
// that caused it (typing; a room change, the trace of its log record; a delta, the command of
// its first change; a snapshot, the request that asked for it), or a new trace when nothing did
// (heartbeats, usage, a delta of connections that closed, the start's request, the goodbye).
// Each instance reads a record in the scope of its trace, so its lines about it name it.
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "adapters/kafka/consumed.h"
#include "adapters/kafka/kafka_config.h"
#include "adapters/kafka/kafka_producer.h"
#include "adapters/kafka/kafka_tail.h"
#include "app/cluster/cluster_presence.h"
#include "app/cluster/presence_outbox.h"
#include "app/ports/clock.h"
#include "app/ports/remote_presence.h"
#include "app/ports/room_events.h"
#include "app/ports/room_store.h"
#include "app/rate_limiter.h"
#include "domain/trace_context.h"

namespace parley {

struct ClusterEventsOptions {
  std::string instance;            // this process (the origin nonce included)
  int64_t heartbeat_ms = 2000;     // a heartbeat (the last delta number) at least this often
  int64_t debounce_ms = 50;        // changes are published at most this often, coalesced
  int64_t snapshot_ms = 500;       // the whole set at most this often, when asked
  size_t chunk_bytes = 64 * 1024;  // bound of one delta or snapshot record
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

  /// Tells the other instances of a room change this instance's command made (its fold decided
  /// it). Any thread.
  void publish_room_change(const RoomChange& change);
  /// Where the other instances' room changes go (the directory). Before start().
  void on_room_change(std::function<void(const RoomChange&)> sink) {
    room_changes_ = std::move(sink);
  }

  // RemotePresence
  std::vector<std::string> online(const std::string& room) const override;

  /// Live instances, this one included (for /metrics).
  size_t live_instances() const;

  /// Shares @p limiter's counts with the other instances (every usage_ms) and charges theirs
  /// to it, so that a user's send quota holds across the cluster. Before start().
  void share_quota(RateLimiter* limiter) { quota_ = limiter; }

 private:
  void on_records(std::vector<Consumed>&& records);
  /// Publishes one record with @p trace as its traceparent; @p what (if any) is logged (debug).
  void publish(const std::string& key, std::string value, const TraceContext& trace,
               const char* what = nullptr);
  /// Notes, for the next delta, the command that caused a presence change (the first one).
  void note_presence_cause();
  void heartbeat_loop();
  void announce(const std::vector<MemberChange>& changes);
  // Announces what a presence record changed and asks its publisher for a snapshot if due.
  void apply(const std::string& origin, ClusterPresence::Update update);
  void publish_presence();
  void publish_usage();

  ClusterEventsOptions options_;
  KafkaOptions kafka_;
  std::shared_ptr<KafkaProducer> producer_;
  ClockPtr clock_;
  RoomEventsPtr local_;
  RateLimiter* quota_ = nullptr;
  std::function<void(const RoomChange&)> room_changes_;
  ClusterPresence presence_;
  std::unique_ptr<KafkaTail> tail_;

  std::mutex mu_;  // outbox_, snapshot_asked_ and the heartbeat loop's wake-up
  std::condition_variable wake_;
  PresenceOutbox outbox_;
  bool snapshot_asked_ = false;
  TraceContext snapshot_trace_;  // the first request for the next snapshot
  TraceContext delta_trace_;     // the command of the first change of the next delta
  int64_t last_snapshot_ = 0;
  int64_t last_beat_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread heartbeats_;
};

}  // namespace parley
