#include "gateway/gateway.h"

#include <spdlog/spdlog.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/json.hpp>

#include "app/metrics.h"
#include "domain/names.h"

namespace parley {
namespace json = boost::json;

namespace {
constexpr int kReplayChunk = 500;
constexpr size_t kMaxWaiting = 1024;  // commands queued behind a barrier
Error bad(std::string m) {
  return make_error(Errc::bad_request, std::move(m));
}
}  // namespace

struct Gateway::Command {
  std::shared_ptr<Client> client;
  codec::Request req;
  bool is_barrier = false;
  bool counted = false;  // in its client's inflight count
  std::string raw;       // the frame as sent, kept for the dead-letter record when it has a ttl
  DeadlinePtr deadline;
  std::unique_ptr<boost::asio::steady_timer> timer;
  bool answered = false;
};

Gateway::Gateway(Services& services, WorkerPool& pool, std::string instance)
    : s_(services),
      pool_(pool),
      instance_(std::move(instance)),
      workers_(static_cast<size_t>(pool.size())),
      send_(services),
      history_(services),
      join_(services),
      create_room_(services),
      invite_(services),
      dm_(services) {}

void Gateway::start() {
  s_.log->on_committed([this](std::vector<Message> messages) { publish(std::move(messages)); });
}

Result<std::string> Gateway::authenticate(const std::string& token) const {
  if (token.empty()) return make_error(Errc::unauthenticated, "missing token");
  return s_.tokens->verify(token, s_.clock->now_ms());
}

// ---- connections ---------------------------------------------------------------------------

std::shared_ptr<Client> Gateway::open(int worker, std::string user, std::string session,
                                      std::weak_ptr<FrameSink> sink) {
  auto client = std::make_shared<Client>();
  client->id = next_client_id_++;
  client->worker = worker;
  client->user = std::move(user);
  client->session = std::move(session);
  client->sink = std::move(sink);
  client->commands =
      TokenBucket(s_.limits.commands_per_second, s_.limits.command_burst, s_.clock->steady_ms());
  workers_[worker].clients.emplace(client->id, client);
  Metrics::global().connections_open++;
  count(Metrics::global().connections_total);

  client->send(
      make_frame(codec::welcome_frame(client->session, client->user, instance_, s_.log->epoch())));
  auto attached = sessions_.attach(client, s_.clock->steady_ms());
  if (attached.previous && attached.previous != client) {
    auto previous = attached.previous;
    pool_.post(previous->worker, [previous] {
      previous->close(kCloseSessionTakenOver, "session taken over by a newer connection");
    });
  }
  for (auto& frame : attached.pending) client->send(frame);
  return client;
}

void Gateway::on_close(const std::shared_ptr<Client>& client) {
  if (!client->open.exchange(false)) return;
  std::vector<std::string> rooms;
  for (auto& [room, sub] : client->rooms) rooms.push_back(room);
  for (auto& room : rooms) unsubscribe(*client, room);
  workers_[client->worker].clients.erase(client->id);
  sessions_.detach(*client, s_.clock->steady_ms());
  Metrics::global().connections_open--;
}

void Gateway::shutdown() {
  for (int w = 0; w < pool_.size(); ++w) {
    pool_.post(w, [this, w] {
      for (auto& [id, client] : workers_[w].clients)
        client->close(kCloseGoingAway, "server shutting down");
    });
  }
}

// ---- commands ------------------------------------------------------------------------------

void Gateway::on_frame(const std::shared_ptr<Client>& client, std::string_view text) {
  count(Metrics::global().commands_total);
  std::string id;
  auto parsed = codec::parse_request(text, id);
  if (!parsed) {
    count(Metrics::global().command_errors_total);
    client->send(make_frame(codec::error_frame(id, parsed.error())));
    return;
  }
  auto cmd = std::make_shared<Command>();
  cmd->client = client;
  cmd->req = std::move(parsed).value();
  // Floods: a connection gets a bounded number of commands per second and in flight.
  if (client->inflight >= s_.limits.max_inflight) {
    return reply_error(cmd, make_error(Errc::rate_limited, "too many commands awaiting results"));
  }
  // Sends have their own per-user limit; every other op shares the connection's.
  if (cmd->req.op != "send" && !client->commands.try_take(s_.clock->steady_ms())) {
    return reply_error(cmd, make_error(Errc::rate_limited, "too many commands; slow down"));
  }
  ++client->inflight;
  cmd->counted = true;
  if (cmd->req.ttl_ms) {
    cmd->raw = std::string(text);
    cmd->deadline = std::make_shared<Deadline>(s_.clock->steady_ms() + *cmd->req.ttl_ms);
    arm_deadline(cmd);
  }
  if (client->barrier) {
    if (client->waiting.size() >= kMaxWaiting) {
      return reply_error(cmd, make_error(Errc::rate_limited, "too many commands in flight"));
    }
    client->waiting.push_back(cmd);
    return;
  }
  dispatch(cmd);
}

void Gateway::dispatch(const CommandPtr& cmd) {
  using Handler = void (Gateway::*)(const CommandPtr&);
  static const std::unordered_map<std::string_view, Handler> handlers = {
      {"join", &Gateway::do_join},
      {"leave", &Gateway::do_leave},
      {"send", &Gateway::do_send},
      {"history", &Gateway::do_history},
      {"create_room", &Gateway::do_create_room},
      {"invite", &Gateway::do_invite},
      {"dm", &Gateway::do_dm},
      {"typing", &Gateway::do_typing},
      {"presence", &Gateway::do_presence},
      {"ping", nullptr},
  };
  auto it = handlers.find(cmd->req.op);
  if (it == handlers.end()) return reply_error(cmd, bad("unknown op: " + cmd->req.op));
  // send claims its deadline in the log's transaction, join and history when their read is
  // back; every other command is applied right now, so this is its last moment.
  bool claims_later = cmd->req.op == "send" || cmd->req.op == "join" || cmd->req.op == "history";
  if (cmd->deadline && !claims_later && !cmd->deadline->claim(s_.clock->steady_ms())) {
    return reply_error(cmd, make_error(Errc::timeout, "the command expired before it was applied"));
  }
  if (it->second == nullptr) return reply_ok(cmd);  // ping
  const auto& op = cmd->req.op;
  if (op == "create_room" || op == "invite" || op == "dm") {
    cmd->is_barrier = true;
    cmd->client->barrier = true;
  }
  (this->*(it->second))(cmd);
}

void Gateway::arm_deadline(const CommandPtr& cmd) {
  cmd->timer = std::make_unique<boost::asio::steady_timer>(pool_.context(cmd->client->worker));
  cmd->timer->expires_after(std::chrono::milliseconds(*cmd->req.ttl_ms));
  cmd->timer->async_wait([this, weak = std::weak_ptr<Command>(cmd)](boost::system::error_code ec) {
    auto cmd = weak.lock();
    if (ec || !cmd || cmd->answered) return;
    // Only if the timer wins the race is the command expired; if the applying stage claimed
    // it first, its result is on the way and will be sent, late.
    if (cmd->deadline->expire()) {
      reply_error(cmd, make_error(Errc::timeout, "the command did not complete within ttl_ms"));
    }
  });
}

void Gateway::reply_ok(const CommandPtr& cmd, json::object fields) {
  if (cmd->answered) return;
  deliver_result(cmd, make_frame(codec::ok_frame(cmd->req.id, std::move(fields))));
}

void Gateway::reply_error(const CommandPtr& cmd, const Error& e) {
  if (cmd->answered) return;
  count(Metrics::global().command_errors_total);
  if (e.code == Errc::rate_limited) count(Metrics::global().rate_limited_total);
  if (e.code == Errc::timeout) dead_letter(cmd, e.message);
  deliver_result(cmd, make_frame(codec::error_frame(cmd->req.id, e)));
}

void Gateway::deliver_result(const CommandPtr& cmd, Frame frame) {
  cmd->answered = true;
  if (cmd->timer) cmd->timer->cancel();
  const auto& client = cmd->client;
  if (cmd->counted) --client->inflight;
  if (cmd->is_barrier) release_barrier(client);
  if (client->open && !client->taken_over && !client->closing) return client->send(frame);
  // The connection dropped or was taken over while the command was in flight: the result goes
  // to its session's current connection, or waits for it.
  if (auto current = sessions_.route(client->session, frame, s_.clock->steady_ms())) {
    pool_.post(current->worker, [current, frame] { current->send(frame); });
  }
}

void Gateway::release_barrier(const std::shared_ptr<Client>& client) {
  client->barrier = false;
  while (!client->barrier && !client->waiting.empty()) {
    auto next = std::static_pointer_cast<Command>(client->waiting.front());
    client->waiting.pop_front();
    if (!next->answered) dispatch(next);  // it may have timed out while waiting
  }
}

void Gateway::dead_letter(const CommandPtr& cmd, const std::string& reason) {
  s_.dead_letters->record(DeadLetter{cmd->client->session, cmd->client->user, cmd->req.op, cmd->raw,
                                     reason, s_.clock->now_ms()});
}

// Binds `var` to a decoded field (a Result); on error replies with it and ends the handler.
#define PARLEY_REQUIRE(var, expr) \
  auto var = (expr);              \
  if (!var) return reply_error(cmd, var.error());

void Gateway::do_send(const CommandPtr& cmd) {
  PARLEY_REQUIRE(room, codec::required_string(cmd->req.body, "room"));
  PARLEY_REQUIRE(text, codec::required_string(cmd->req.body, "text"));
  PARLEY_REQUIRE(client_msg_id, codec::optional_string(cmd->req.body, "client_msg_id"));
  SendMessage::Command c{cmd->client->user, *room, std::move(*text), client_msg_id->value_or(""),
                         cmd->deadline};
  send_.handle(c, [this, cmd](Result<Appended> r) {
    on_worker(cmd->client, [this, cmd, r = std::move(r)] {
      if (!r) return reply_error(cmd, r.error());
      const Message& m = r->message;
      reply_ok(cmd, {{"room", m.room}, {"seq", m.seq}, {"msg_id", m.msg_id}, {"ts", m.ts}});
    });
  });
}

void Gateway::do_history(const CommandPtr& cmd) {
  PARLEY_REQUIRE(room, codec::required_string(cmd->req.body, "room"));
  PARLEY_REQUIRE(before, codec::optional_int(cmd->req.body, "before"));
  PARLEY_REQUIRE(limit, codec::optional_int(cmd->req.body, "limit"));
  if (*before && **before < 1) return reply_error(cmd, bad("before must be a seq >= 1"));
  if (*limit && **limit < 1) return reply_error(cmd, bad("limit must be between 1 and 200"));
  int capped = static_cast<int>(std::min<int64_t>(limit->value_or(0), s_.limits.history_max_limit));
  history_.handle({cmd->client->user, *room, before->value_or(0), capped}, [this, cmd,
                                                                            room = *room](
                                                                               Result<Page> r) {
    on_worker(cmd->client, [this, cmd, room, r = std::move(r)] {
      if (!r) return reply_error(cmd, r.error());
      if (cmd->deadline && !cmd->deadline->claim(s_.clock->steady_ms())) {
        return reply_error(cmd, make_error(Errc::timeout, "history read too late"));
      }
      json::array messages;
      for (const auto& m : r->messages) messages.push_back(codec::message_object(m));
      reply_ok(cmd, {{"room", room}, {"messages", std::move(messages)}, {"has_more", r->has_more}});
    });
  });
}

void Gateway::do_create_room(const CommandPtr& cmd) {
  PARLEY_REQUIRE(room, codec::required_string(cmd->req.body, "room"));
  PARLEY_REQUIRE(is_private, codec::optional_bool(cmd->req.body, "private", false));
  create_room_.handle({cmd->client->user, *room, *is_private}, [this, cmd](Result<Room> r) {
    on_worker(cmd->client, [this, cmd, r = std::move(r)] {
      if (!r) return reply_error(cmd, r.error());
      reply_ok(cmd, {{"room", r->name}});
      if (r->is_public()) {
        broadcast_all(make_frame(codec::event_frame("room.created", r->name, r->created_by)));
      }
    });
  });
}

void Gateway::do_invite(const CommandPtr& cmd) {
  PARLEY_REQUIRE(room, codec::required_string(cmd->req.body, "room"));
  PARLEY_REQUIRE(user, codec::required_string(cmd->req.body, "user"));
  invite_.handle({cmd->client->user, *room, *user},
                 [this, cmd, room = *room, user = *user](Result<InviteMember::Reply> r) {
                   on_worker(cmd->client, [this, cmd, room, user, r = std::move(r)] {
                     if (!r) return reply_error(cmd, r.error());
                     reply_ok(cmd, {{"room", room}, {"user", user}});
                   });
                 });
}

void Gateway::do_dm(const CommandPtr& cmd) {
  PARLEY_REQUIRE(user, codec::required_string(cmd->req.body, "user"));
  dm_.handle({cmd->client->user, *user}, [this, cmd](Result<OpenDm::Reply> r) {
    on_worker(cmd->client, [this, cmd, r = std::move(r)] {
      if (!r) return reply_error(cmd, r.error());
      reply_ok(cmd, {{"room", r->room}});
    });
  });
}

void Gateway::do_typing(const CommandPtr& cmd) {
  PARLEY_REQUIRE(room, codec::required_string(cmd->req.body, "room"));
  if (auto access = s_.directory.check_access(*room, cmd->client->user); !access) {
    return reply_error(cmd, access.error());
  }
  publish_event(*room, make_frame(codec::event_frame("typing", *room, cmd->client->user)),
                cmd->client->id);
  reply_ok(cmd, {{"room", *room}});
}

void Gateway::do_presence(const CommandPtr& cmd) {
  PARLEY_REQUIRE(room, codec::required_string(cmd->req.body, "room"));
  if (auto access = s_.directory.check_access(*room, cmd->client->user); !access) {
    return reply_error(cmd, access.error());
  }
  json::array online;
  for (auto& user : s_.presence.online(*room)) online.push_back(json::string(user));
  reply_ok(cmd, {{"room", *room}, {"online", std::move(online)}});
}

void Gateway::do_leave(const CommandPtr& cmd) {
  PARLEY_REQUIRE(room, codec::required_string(cmd->req.body, "room"));
  unsubscribe(*cmd->client, *room);
  reply_ok(cmd, {{"room", *room}});
}

// ---- join, replay, live ----------------------------------------------------------------------

void Gateway::do_join(const CommandPtr& cmd) {
  PARLEY_REQUIRE(room, codec::required_string(cmd->req.body, "room"));
  PARLEY_REQUIRE(since, codec::optional_int(cmd->req.body, "since"));
  if (*since && **since < 0) return reply_error(cmd, bad("since must be a seq >= 0"));
  if (!valid_any_room_name(*room)) {
    return reply_error(cmd, make_error(Errc::not_found, "no such room: " + *room));
  }
  Client& client = *cmd->client;
  if (!client.open) {
    // Dispatched after its connection dropped (it waited behind a barrier): nothing to join.
    return reply_error(cmd, make_error(Errc::unavailable, "the connection closed"));
  }
  // Subscribe (holding) before reading the head, so nothing committed after the read is missed.
  auto emplaced = client.rooms.try_emplace(*room);
  bool inserted = emplaced.second;
  RoomSubscription& sub = emplaced.first->second;
  if (inserted) workers_[client.worker].rooms[*room].push_back(&client);
  bool was_live = sub.live;
  int64_t old_last = sub.last_seq;
  sub.live = false;
  uint64_t generation = ++sub.generation;

  join_.handle({client.user, *room}, [=, this](Result<JoinRoom::Reply> r) {
    on_worker(cmd->client, [=, this, r = std::move(r)] {
      Client& c = *cmd->client;
      auto sit = c.rooms.find(*room);
      bool current = c.open && sit != c.rooms.end() && sit->second.generation == generation;
      Status usable = r ? Status(Ok{}) : Status(r.error());
      if (usable && cmd->deadline && !cmd->deadline->claim(s_.clock->steady_ms())) {
        usable = make_error(Errc::timeout, "join completed too late");
      }
      if (!usable) {
        if (current && inserted) unsubscribe(c, *room);
        if (current && !inserted) go_live(c, *room, old_last);
        return reply_error(cmd, usable.error());
      }
      int64_t head = r->head;
      if (!current) {
        return reply_ok(cmd, {{"room", *room}, {"head", head}});  // superseded by a leave or join
      }
      // Present before the result leaves: once the client has it, it may leave elsewhere.
      RoomSubscription& s = sit->second;
      if (!s.counted_in_presence) {
        s.counted_in_presence = true;
        s_.presence.add(*room, c.user, [&] {
          publish_event(*room, make_frame(codec::event_frame("member.joined", *room, c.user)),
                        c.id);
        });
      }
      reply_ok(cmd, {{"room", *room}, {"head", head}});
      // Where to resume: the client's `since`; on a re-join without one, where live delivery
      // stood; on a first join without one, the head.
      int64_t cursor = *since ? std::min(**since, head) : (was_live ? old_last : head);
      if (cursor < head) return replay(cmd->client, *room, generation, cursor, head);
      go_live(c, *room, head);
    });
  });
}

// A join's replay: pages read from the log, written out no faster than the client reads them.
struct Gateway::Replay {
  std::shared_ptr<Client> client;
  std::string room;
  uint64_t generation = 0;
  int64_t cursor = 0;  // newest seq sent
  int64_t head = 0;    // replay up to here, then go live
  Page page;
  size_t next = 0;  // index in page of the next message to send

  bool current() const {
    auto it = client->rooms.find(room);
    return client->open && it != client->rooms.end() && it->second.generation == generation;
  }
};

void Gateway::replay(const std::shared_ptr<Client>& client, const std::string& room,
                     uint64_t generation, int64_t cursor, int64_t head) {
  auto r = std::make_shared<Replay>();
  r->client = client;
  r->room = room;
  r->generation = generation;
  r->cursor = cursor;
  r->head = head;
  read_replay_page(r);
}

void Gateway::read_replay_page(const std::shared_ptr<Replay>& r) {
  s_.log->read_after(r->room, r->cursor, kReplayChunk, [this, r](Result<Page> page) {
    on_worker(r->client, [this, r, page = std::move(page)]() mutable {
      if (!r->current()) return;
      if (!page) {
        // A gap would break the protocol's promise; the client resumes with `since` instead.
        spdlog::warn("replay of {} failed: {}", r->room, page.error().message);
        return r->client->close(kClosePolicy, "replay failed; resume with since");
      }
      r->page = std::move(page).value();
      r->next = 0;
      pump_replay(r);
    });
  });
}

void Gateway::pump_replay(const std::shared_ptr<Replay>& r) {
  if (!r->current()) return;
  // Backpressure: keep at most half the send queue filled with replayed messages, so a long
  // history reaches a reading client however small its queue is.
  auto sink = r->client->sink.lock();
  if (!sink) return;
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
  go_live(*r->client, r->room, r->cursor);
}

void Gateway::go_live(Client& client, const std::string& room, int64_t cursor) {
  auto it = client.rooms.find(room);
  if (it == client.rooms.end()) return;
  RoomSubscription& sub = it->second;
  sub.last_seq = std::max(sub.last_seq, cursor);
  if (!sub.live) sub.last_seq = cursor;
  for (auto& [seq, frame] : sub.held) {
    if (seq == 0) {
      client.send(frame);
    } else if (seq > sub.last_seq) {
      client.send(frame);
      sub.last_seq = seq;
    }
  }
  sub.held.clear();
  sub.held_bytes = 0;
  sub.live = true;
}

void Gateway::unsubscribe(Client& client, const std::string& room) {
  auto it = client.rooms.find(room);
  if (it == client.rooms.end()) return;
  bool counted = it->second.counted_in_presence;
  client.rooms.erase(it);
  auto& local = workers_[client.worker].rooms;
  if (auto r = local.find(room); r != local.end()) {
    std::erase(r->second, &client);
    if (r->second.empty()) local.erase(r);
  }
  if (counted) {
    s_.presence.remove(room, client.user, [&] {
      publish_event(room, make_frame(codec::event_frame("member.left", room, client.user)),
                    client.id);
    });
  }
}

// ---- fan-out --------------------------------------------------------------------------------

void Gateway::publish(std::vector<Message> messages) {
  // Runs on the log's thread: encode each message once, then hand the same bytes to every worker.
  struct Item {
    std::string room;
    int64_t seq;
    Frame frame;
  };
  auto batch = std::make_shared<std::vector<Item>>();
  batch->reserve(messages.size());
  for (auto& m : messages) {
    Frame f = make_frame(codec::message_frame(m));
    batch->push_back(Item{std::move(m.room), m.seq, std::move(f)});
  }
  for (int w = 0; w < pool_.size(); ++w) {
    pool_.post(w, [this, w, batch] {
      for (const auto& item : *batch) deliver_local(w, item.room, item.seq, item.frame, 0);
    });
  }
}

void Gateway::publish_event(const std::string& room, Frame frame, uint64_t except_client) {
  for (int w = 0; w < pool_.size(); ++w) {
    pool_.post(w, [this, w, room, frame, except_client] {
      deliver_local(w, room, 0, frame, except_client);
    });
  }
}

void Gateway::broadcast_all(Frame frame) {
  for (int w = 0; w < pool_.size(); ++w) {
    pool_.post(w, [this, w, frame] {
      for (auto& [id, client] : workers_[w].clients) client->send(frame);
    });
  }
}

void Gateway::deliver_local(int worker, const std::string& room, int64_t seq, const Frame& frame,
                            uint64_t except_client) {
  auto it = workers_[worker].rooms.find(room);
  if (it == workers_[worker].rooms.end()) return;
  uint64_t delivered = 0;
  for (Client* c : it->second) {
    if (c->id == except_client) continue;
    auto sit = c->rooms.find(room);
    if (sit == c->rooms.end()) continue;
    RoomSubscription& sub = sit->second;
    if (!sub.live) {
      // Joining: hold it back until the replay is done. Bounded like the send queue.
      sub.held.emplace_back(seq, frame);
      sub.held_bytes += frame->size();
      if (sub.held_bytes > s_.limits.send_queue_bytes) {
        sub.held.clear();
        sub.held_bytes = 0;
        count(Metrics::global().slow_consumer_closes_total);
        c->close(kClosePolicy, "too slow to keep up; resume with since");
      }
      continue;
    }
    if (seq != 0) {
      if (seq <= sub.last_seq) continue;  // already sent by a replay
      sub.last_seq = seq;
    }
    c->send(frame);
    ++delivered;
  }
  count(Metrics::global().deliveries_total, delivered);
}

}  // namespace parley
