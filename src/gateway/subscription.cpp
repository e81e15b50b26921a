#include "gateway/subscription.h"

#include <spdlog/spdlog.h>

#include <boost/asio/steady_timer.hpp>

#include "domain/names.h"
#include "runtime/log_trace.h"

namespace parley {

namespace {
constexpr int kReplayChunk = 500;
}

Offer offer(Client& client, RoomSubscription& sub, int64_t seq, const Frame& frame,
            size_t hold_limit) {
  if (!sub.live) {
    // Joining: hold it back until the replay is done. Bounded like the send queue, over all
    // the joins of the connection.
    sub.held.emplace_back(seq, frame);
    sub.held_bytes += frame->size();
    client.held_bytes += frame->size();
    if (client.held_bytes <= hold_limit) return Offer::held;
    drop_held(client, sub);
    return Offer::overflow;
  }
  if (seq != 0) {  // events (seq 0) are never replayed, so never skipped
    if (seq <= sub.last_seq) return Offer::skipped;
    sub.last_seq = seq;
  }
  client.send(frame);
  return Offer::sent;
}

void go_live(Client& client, RoomSubscription& sub, int64_t cursor) {
  sub.last_seq = sub.live ? std::max(sub.last_seq, cursor) : cursor;
  for (auto& [seq, frame] : sub.held) {
    if (seq == 0) {
      client.send(frame);
    } else if (seq > sub.last_seq) {
      client.send(frame);
      sub.last_seq = seq;
    }
  }
  drop_held(client, sub);
  sub.live = true;
}

void drop_held(Client& client, RoomSubscription& sub) {
  client.held_bytes -= sub.held_bytes;
  sub.held.clear();
  sub.held.shrink_to_fit();
  sub.held_bytes = 0;
}

// A join's replay: pages read from the log, written out no faster than the client reads them.
struct Subscriptions::Replay {
  std::shared_ptr<Client> client;
  std::string room;
  uint64_t generation = 0;
  int64_t cursor = 0;  // newest seq sent
  int64_t head = 0;    // replay up to here, then go live
  Page page;
  size_t next = 0;  // index in page of the next message to send

  RoomSubscription* current() const {
    auto it = client->rooms.find(room);
    bool ok = client->open && it != client->rooms.end() && it->second.generation == generation;
    return ok ? &it->second : nullptr;
  }
};

Subscriptions::Subscriptions(Services& services, WorkerPool& pool, FanOut& fan_out,
                             Replies& replies)
    : s_(services),
      pool_(pool),
      fan_out_(fan_out),
      replies_(replies),
      join_(services),
      enter_(services),
      leave_(services) {}

void Subscriptions::join(const CommandPtr& cmd, const std::string& room,
                         std::optional<int64_t> since) {
  if (!valid_any_room_name(room)) {
    return replies_.error(cmd, make_error(Errc::not_found, "no such room: " + room));
  }
  Client& client = *cmd->client;
  if (!client.open) {
    // Dispatched after its connection dropped (it waited behind a barrier): nothing to join.
    return replies_.error(cmd, make_error(Errc::unavailable, "the connection closed"));
  }
  // Subscribe (holding) before reading the head, so nothing committed after the read is missed.
  auto emplaced = client.rooms.try_emplace(room);
  bool inserted = emplaced.second;  // not a structured binding: lambdas capture it below
  RoomSubscription& sub = emplaced.first->second;
  if (inserted) fan_out_.subscribe(client, room);
  bool was_live = sub.live;
  int64_t old_last = sub.last_seq;
  sub.live = false;
  uint64_t generation = ++sub.generation;
  join_.handle({client.user, room}, [=, this](Result<JoinRoom::Reply> r) {
    pool_.post(cmd->client->worker, [=, this, r = std::move(r)]() mutable {
      joined(cmd, room, since, generation, inserted, was_live, old_last, std::move(r));
    });
  });
}

void Subscriptions::joined(const CommandPtr& cmd, const std::string& room,
                           std::optional<int64_t> since, uint64_t generation, bool inserted,
                           bool was_live, int64_t old_last, Result<JoinRoom::Reply> r) {
  // Back on the worker: what follows (the presence change it makes included) is the command's.
  LogTraceScope scope(cmd->trace);
  Client& c = *cmd->client;
  auto sit = c.rooms.find(room);
  // A later join or leave of the same room superseded this one: answer, but touch nothing.
  bool current = c.open && sit != c.rooms.end() && sit->second.generation == generation;
  Status usable = r ? Status(Ok{}) : Status(r.error());
  if (usable && !claim_deadline(cmd->deadline, s_.clock->steady_ms())) {
    usable = make_error(Errc::timeout, "join completed too late");
  }
  if (!usable) {
    if (current && inserted) leave(c, room);
    if (current && !inserted) go_live(c, sit->second, old_last);
    return replies_.error(cmd, usable.error());
  }
  int64_t head = r->head;
  if (!current) return replies_.ok(cmd, {{"room", room}, {"head", head}});
  // Present before the result leaves: once the client has it, it may ask for presence.
  RoomSubscription& sub = sit->second;
  if (!sub.counted_in_presence) {
    sub.counted_in_presence = true;
    enter_.handle({c.user, room, c.id}, [](Result<EnterRoom::Reply>) {});
  }
  replies_.ok(cmd, {{"room", room}, {"head", head}});
  // Where to resume: the client's `since`; on a re-join without one, where live delivery
  // stood; on a first join without one, the head.
  int64_t cursor = since ? std::min(*since, head) : (was_live ? old_last : head);
  if (cursor >= head) return go_live(c, sub, head);
  auto replay = std::make_shared<Replay>();
  replay->client = cmd->client;
  replay->room = room;
  replay->generation = generation;
  replay->cursor = cursor;
  replay->head = head;
  start_replay(replay);
}

void Subscriptions::leave(Client& client, const std::string& room) {
  auto it = client.rooms.find(room);
  if (it == client.rooms.end()) return;
  bool counted = it->second.counted_in_presence;
  drop_held(client, it->second);
  client.rooms.erase(it);
  fan_out_.unsubscribe(client, room);
  leave_.handle({client.user, room, counted, client.id}, [](Result<LeaveRoom::Reply>) {});
}

void Subscriptions::leave_all(Client& client) {
  std::vector<std::string> rooms;
  rooms.reserve(client.rooms.size());
  for (auto& [room, sub] : client.rooms) rooms.push_back(room);
  for (auto& room : rooms) leave(client, room);
  // The queued replays hold the client: let go of them (they would find no room anyway).
  client.queued_replays.clear();
}

// ---- replay ---------------------------------------------------------------------------------

void Subscriptions::start_replay(const std::shared_ptr<Replay>& r) {
  Client& c = *r->client;
  if (c.replaying) {
    c.queued_replays.push_back([this, r] { start_replay(r); });
    return;
  }
  c.replaying = true;
  read_replay_page(r);
}

void Subscriptions::end_replay(const std::shared_ptr<Replay>& r) {
  Client& c = *r->client;
  c.replaying = false;
  if (c.queued_replays.empty()) return;
  auto next = std::move(c.queued_replays.front());
  c.queued_replays.pop_front();
  next();
}

void Subscriptions::read_replay_page(const std::shared_ptr<Replay>& r) {
  s_.history->read_after(r->room, r->cursor, kReplayChunk, [this, r](Result<Page> page) {
    pool_.post(r->client->worker, [this, r, page = std::move(page)]() mutable {
      if (!r->current()) return end_replay(r);
      if (!page) {
        // A gap would break the protocol's promise; the client resumes with `since` instead.
        spdlog::warn("replay of {} failed: {}", r->room, page.error().message);
        r->client->close(kClosePolicy, "replay failed; resume with since");
        return end_replay(r);
      }
      r->page = std::move(page).value();
      r->next = 0;
      pump_replay(r);
    });
  });
}

void Subscriptions::pump_replay(const std::shared_ptr<Replay>& r) {
  RoomSubscription* sub = r->current();
  if (!sub) return end_replay(r);
  // Backpressure: keep at most half the send queue filled with replayed messages, so a long
  // history reaches a reading client however small its queue is.
  auto sink = r->client->sink.lock();
  if (!sink) return end_replay(r);
  const auto& messages = r->page.messages;
  while (r->next < messages.size() && sink->queued_bytes() < s_.limits.send_queue_bytes / 2) {
    const Message& m = messages[r->next++];
    r->client->send(make_frame(codec::message_frame(m)));
    r->cursor = m.seq;
  }
  if (r->next < messages.size()) {
    auto timer = std::make_shared<boost::asio::steady_timer>(pool_.context(r->client->worker),
                                                             std::chrono::milliseconds(2));
    timer->async_wait([this, r, timer](boost::system::error_code) { pump_replay(r); });
    return;
  }
  if (r->page.has_more && r->cursor < r->head) return read_replay_page(r);
  go_live(*r->client, *sub, r->cursor);
  end_replay(r);
}

}  // namespace parley
