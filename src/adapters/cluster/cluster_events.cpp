#include "adapters/cluster/cluster_events.h"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <chrono>
#include <optional>
#include <vector>

#include "adapters/cluster/bus_json.h"
#include "runtime/log_format.h"
#include "runtime/log_trace.h"
#include "runtime/trace_ids.h"

namespace parley {

namespace json = boost::json;

namespace {

using Pair = ClusterPresence::Pair;

// [[room, [user, ...]], ...]: pairs of one room share its name (they come sorted by room).
json::array grouped(const std::vector<Pair>& pairs) {
  json::array out;
  const std::string* room = nullptr;
  for (const Pair& p : pairs) {
    if (!room || *room != p.first) {
      out.push_back(json::array{p.first, json::array{}});
      room = &p.first;
    }
    out.back().as_array()[1].as_array().push_back(json::string(p.second));
  }
  return out;
}

std::vector<Pair> ungrouped(const json::object& o, const char* key) {
  std::vector<Pair> pairs;
  const json::value* v = o.if_contains(key);
  if (!v || !v->is_array()) return pairs;
  for (const auto& g : v->as_array()) {
    if (!g.is_array() || g.as_array().size() != 2 || !g.as_array()[0].is_string() ||
        !g.as_array()[1].is_array()) {
      continue;
    }
    const json::string& room = g.as_array()[0].as_string();
    for (const auto& u : g.as_array()[1].as_array()) {
      if (u.is_string()) pairs.emplace_back(std::string(room), std::string(u.as_string()));
    }
  }
  return pairs;
}

uint64_t number(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  if (v && v->is_uint64()) return v->as_uint64();
  return v && v->is_int64() && v->as_int64() >= 0 ? static_cast<uint64_t>(v->as_int64()) : 0;
}

// The command this thread is handling (its log scope), or a new trace: a record no command
// caused (a timer's) still gets one, so the lines about it on every instance name a trace.
TraceContext caused_by() {
  TraceContext t = LogTraceScope::current_or_none();
  return t.empty() ? new_trace() : t;
}

}  // namespace

ClusterEvents::ClusterEvents(ClusterEventsOptions options, KafkaOptions kafka,
                             std::shared_ptr<KafkaProducer> producer, ClockPtr clock)
    : options_(std::move(options)),
      kafka_(std::move(kafka)),
      producer_(std::move(producer)),
      clock_(std::move(clock)),
      presence_(ClusterPresence::Options{options_.instance, options_.instance_timeout_ms}),
      outbox_(options_.chunk_bytes) {}

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
    publish(options_.instance, json::serialize(json::object{{"t", "b"}, {"o", options_.instance}}),
            new_trace(), "goodbye");
    tail_->stop();
  }
}

void ClusterEvents::publish(const std::string& key, std::string value, const TraceContext& trace,
                            const char* what) {
  LogTraceScope scope(trace);
  if (what != nullptr) spdlog::debug("events: publishing {} ({} bytes)", what, value.size());
  auto header = trace.header();
  // Fire and forget: a lost typing event is harmless, a lost delta is seen as a gap in the
  // numbers by the receivers, which ask for a snapshot.
  Status st = producer_->produce(
      kafka_.events(), key, std::move(value), [](const Delivery&) {},
      std::string_view(header.data(), header.size()));
  if (!st) spdlog::debug("event not published: {}", st.error().message);
}

void ClusterEvents::note_presence_cause() {
  const TraceContext* t = LogTraceScope::current();
  if (t != nullptr && delta_trace_.empty()) delta_trace_ = *t;
}

void ClusterEvents::member_joined(const std::string& room, const std::string& user,
                                  uint64_t origin) {
  {
    // Published by the heartbeat loop within debounce_ms, with the other changes of the batch.
    std::lock_guard lock(mu_);
    outbox_.joined(room, user);
    note_presence_cause();
  }
  if (presence_.local_joined(room, user)) local_->member_joined(room, user, origin);
}

void ClusterEvents::member_left(const std::string& room, const std::string& user, uint64_t origin) {
  {
    std::lock_guard lock(mu_);
    outbox_.left(room, user);
    note_presence_cause();
  }
  if (presence_.local_left(room, user)) local_->member_left(room, user, origin);
}

void ClusterEvents::typing(const std::string& room, const std::string& user, uint64_t origin) {
  local_->typing(room, user, origin);
  publish(
      room,
      json::serialize(json::object{{"t", "y"}, {"o", options_.instance}, {"r", room}, {"u", user}}),
      caused_by(), "typing");
}

void ClusterEvents::room_created(const Room& room) {
  // Every instance folds the same log and announces it itself.
  local_->room_created(room);
}

void ClusterEvents::publish_room_change(const RoomChange& change) {
  const Room& room = change.room;
  json::object o{{"o", options_.instance}, {"r", room.name}};
  if (change.kind == RoomChange::Kind::room_created) {
    json::array members;
    for (const auto& m : room.members) members.push_back(json::string(m));
    o["t"] = "c";
    o["k"] = room_kind_name(room.kind);
    o["b"] = room.created_by;
    o["m"] = std::move(members);
  } else if (change.kind == RoomChange::Kind::member_added) {
    o["t"] = "a";
    o["u"] = change.member;
  } else {
    return;
  }
  // Called in the scope of the log record that made the change (ClusterLog::fold_batch).
  publish(room.name, json::serialize(o), caused_by(), "room change");
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
    // What is logged about it here, and published because of it, is the record's trace.
    LogTraceScope scope(c.trace);
    if (type == "y") {
      std::string room = str("r");
      std::string user = str("u");
      spdlog::debug("events: typing in {} by {} from {}", log_safe(room), log_safe(user),
                    log_safe(origin));
      local_->typing(room, user, 0);
    } else if (type == "c" && room_changes_) {
      Room room;
      room.name = str("r");
      spdlog::debug("events: room {} created, from {}", log_safe(room.name), log_safe(origin));
      room.kind = room_kind_of(str("k"));
      room.created_by = str("b");
      if (const json::value* m = o.if_contains("m"); m && m->is_array()) {
        for (const auto& u : m->as_array()) {
          if (u.is_string()) room.members.insert(std::string(u.as_string()));
        }
      }
      if (!room.name.empty()) room_changes_(RoomChange::created(std::move(room)));
    } else if (type == "a" && room_changes_) {
      std::string room = str("r");
      std::string user = str("u");
      spdlog::debug("events: {} added to {}, from {}", log_safe(user), log_safe(room),
                    log_safe(origin));
      if (!room.empty() && !user.empty()) room_changes_(RoomChange::added(room, user));
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
      spdlog::debug("events: goodbye from {}", log_safe(origin));
      announce(presence_.forget(origin));
    } else if (type == "d") {
      spdlog::debug("events: presence delta {} from {}", number(o, "s"), log_safe(origin));
      // The record's time, not ours: a record re-read late is already old.
      apply(origin, presence_.delta(origin, c.timestamp_ms, number(o, "s"), ungrouped(o, "j"),
                                    ungrouped(o, "l")));
    } else if (type == "s") {
      ClusterPresence::Chunk chunk;
      chunk.id = number(o, "n");
      chunk.seq = number(o, "s");
      chunk.index = static_cast<uint32_t>(number(o, "i"));
      chunk.count = static_cast<uint32_t>(number(o, "c"));
      chunk.pairs = ungrouped(o, "p");
      spdlog::debug("events: presence snapshot {} chunk {} of {} from {}", chunk.id,
                    chunk.index + 1, chunk.count, log_safe(origin));
      apply(origin, presence_.snapshot(origin, c.timestamp_ms, std::move(chunk)));
    } else if (type == "h" && o.contains("s")) {
      apply(origin, presence_.heartbeat(origin, c.timestamp_ms, number(o, "s")));
    } else if (type == "q") {
      std::string to = str("i");
      if (to == options_.instance || to == "*") {
        spdlog::debug("events: snapshot asked by {}", log_safe(origin));
        std::lock_guard lock(mu_);
        snapshot_asked_ = true;
        // The snapshot answers the first request that asked for it.
        if (snapshot_trace_.empty()) snapshot_trace_ = c.trace;
      }
    }
  }
}

void ClusterEvents::apply(const std::string& origin, ClusterPresence::Update update) {
  if (!update.changes.empty() || update.ask_snapshot) {
    spdlog::debug("events: presence of {}: {} changes{}", log_safe(origin), update.changes.size(),
                  update.ask_snapshot ? ", a snapshot asked" : "");
  }
  announce(update.changes);
  if (update.ask_snapshot) {
    // In the scope of the record that showed the gap: the request carries its trace.
    publish(options_.instance,
            json::serialize(json::object{{"t", "q"}, {"o", options_.instance}, {"i", origin}}),
            caused_by(), "snapshot request");
  }
}

void ClusterEvents::publish_usage() {
  json::array q;
  for (auto& [user, n] : quota_->take_usage()) q.push_back(json::array{user, n});
  if (q.empty()) return;
  publish(options_.instance,
          json::serialize(json::object{{"t", "u"}, {"o", options_.instance}, {"q", std::move(q)}}),
          new_trace());
}

void ClusterEvents::publish_presence() {
  std::vector<PresenceOutbox::Delta> deltas;
  std::optional<PresenceOutbox::Snapshot> snapshot;
  uint64_t seq = 0;
  bool beat = false;
  TraceContext delta_trace;
  TraceContext snapshot_trace;
  const int64_t now = clock_->steady_ms();
  {
    std::lock_guard lock(mu_);
    deltas = outbox_.take_deltas();
    if (!deltas.empty()) std::swap(delta_trace, delta_trace_);
    // Several askers within snapshot_ms share one snapshot.
    if (snapshot_asked_ && now - last_snapshot_ >= options_.snapshot_ms) {
      snapshot_asked_ = false;
      last_snapshot_ = now;
      snapshot = outbox_.snapshot();
      std::swap(snapshot_trace, snapshot_trace_);
    }
    seq = outbox_.seq();
    if (now - last_beat_ >= options_.heartbeat_ms) {
      last_beat_ = now;
      beat = true;
    }
  }
  // Only this thread publishes them, so they reach the partition in this order: deltas, the
  // snapshot as of the last of them, the heartbeat.
  const std::string& self = options_.instance;
  // Changes of connections that closed, with no command: a trace of their own.
  if (!deltas.empty() && delta_trace.empty()) delta_trace = new_trace();
  if (snapshot && snapshot_trace.empty()) snapshot_trace = new_trace();
  for (const auto& d : deltas) {
    json::object o{{"t", "d"}, {"o", self}, {"s", d.seq}};
    if (!d.joined.empty()) o["j"] = grouped(d.joined);
    if (!d.left.empty()) o["l"] = grouped(d.left);
    publish(self, json::serialize(o), delta_trace, "presence delta");
  }
  if (snapshot) {
    const auto count = static_cast<uint64_t>(snapshot->chunks.size());
    for (uint64_t i = 0; i < count; ++i) {
      publish(self,
              json::serialize(json::object{{"t", "s"},
                                           {"o", self},
                                           {"s", snapshot->seq},
                                           {"n", snapshot->id},
                                           {"i", i},
                                           {"c", count},
                                           {"p", grouped(snapshot->chunks[i])}}),
              snapshot_trace, "presence snapshot chunk");
    }
  }
  if (beat) {
    publish(self, json::serialize(json::object{{"t", "h"}, {"o", self}, {"s", seq}}), new_trace());
  }
}

void ClusterEvents::heartbeat_loop() {
  int64_t last_usage = 0;
  if (quota_) quota_->count_usage();
  {
    std::lock_guard lock(mu_);
    last_beat_ = clock_->steady_ms() - options_.heartbeat_ms;  // the first one at once
    last_snapshot_ = clock_->steady_ms() - options_.snapshot_ms;
  }
  // A new instance asks everyone for their sets at once rather than on their next heartbeat.
  publish(options_.instance,
          json::serialize(json::object{{"t", "q"}, {"o", options_.instance}, {"i", "*"}}),
          new_trace(), "snapshot request to all");
  while (!stopping_.load()) {
    {
      std::unique_lock lock(mu_);
      wake_.wait_for(lock, std::chrono::milliseconds(options_.debounce_ms));
    }
    if (stopping_.load()) break;
    if (quota_ && clock_->steady_ms() - last_usage >= options_.usage_ms) {
      last_usage = clock_->steady_ms();
      publish_usage();
    }
    publish_presence();
    // Silent instances leave, and their users with them.
    announce(presence_.expire(clock_->now_ms()));
  }
}

}  // namespace parley
