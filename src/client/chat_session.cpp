#include "client/chat_session.h"

#include <boost/json.hpp>

namespace parley::client {
namespace json = boost::json;
namespace {

std::string str(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return (v != nullptr && v->is_string()) ? std::string(v->get_string()) : std::string();
}

int64_t num(const json::object& o, std::string_view key, int64_t fallback = 0) {
  const auto* v = o.if_contains(key);
  if (v == nullptr) return fallback;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->get_uint64());
  return fallback;
}

Shown message_shown(const json::object& m, Shown::Kind kind) {
  Shown s;
  s.kind = kind;
  s.room = str(m, "room");
  s.user = str(m, "from");
  s.text = str(m, "text");
  s.seq = num(m, "seq");
  s.ts = num(m, "ts");
  return s;
}

}  // namespace

ChatSession::ChatSession(std::string user, std::string session_id, SeqFile stored)
    : user_(std::move(user)), session_(std::move(session_id)), seqs_(std::move(stored)) {}

void ChatSession::notice(Output& out, std::string text, std::string room) {
  out.shown.push_back(Shown{Shown::Kind::notice, std::move(room), {}, std::move(text), 0, 0});
}

void ChatSession::error(Output& out, std::string text, std::string room) {
  out.shown.push_back(Shown{Shown::Kind::error, std::move(room), {}, std::move(text), 0, 0});
}

std::string ChatSession::request(Op op, std::string_view type, std::string room, Output& out,
                                 std::string user) {
  const std::string id = "c" + std::to_string(next_id_++);
  json::object f;
  f["type"] = type;
  f["id"] = id;
  if (!room.empty()) f["room"] = room;
  if (!user.empty()) f["user"] = user;
  pending_[id] = Pending{op, std::move(room), std::move(user), {}, true};
  out.frames.push_back(json::serialize(f));
  return id;
}

void ChatSession::send_join(const std::string& room, bool rejoin, Output& out) {
  const std::string id = "c" + std::to_string(next_id_++);
  json::object f;
  f["type"] = "join";
  f["id"] = id;
  f["room"] = room;
  // Resume: every message after the last one seen is replayed, in order, then live ones follow.
  const auto it = seqs_.rooms.find(room);
  if (it != seqs_.rooms.end() && it->second >= 0) f["since"] = it->second;
  Pending p{rejoin ? Op::rejoin : Op::join, room, {}, {}, true};
  p.switch_to = !rejoin || current_.empty();
  pending_[id] = std::move(p);
  out.frames.push_back(json::serialize(f));
}

void ChatSession::write_send(const UnsentSend& s, Output& out) {
  // A fresh request id each time, the same client_msg_id: a repeat returns the first result.
  const std::string id = "c" + std::to_string(next_id_++);
  json::object f;
  f["type"] = "send";
  f["id"] = id;
  f["room"] = s.room;
  f["text"] = s.text;
  f["client_msg_id"] = s.client_msg_id;
  pending_[id] = Pending{Op::send, s.room, {}, s.client_msg_id, false};
  out.frames.push_back(json::serialize(f));
}

void ChatSession::on_welcome(std::string_view frame, Output& out) {
  boost::system::error_code ec;
  const auto v = json::parse(frame, ec);
  if (ec || !v.is_object() || str(v.get_object(), "type") != "welcome") {
    error(out, "the server's first frame is not a welcome");
    return;
  }
  const auto& w = v.get_object();
  const std::string epoch = str(w, "epoch");
  if (!seqs_.epoch.empty() && epoch != seqs_.epoch) {
    // Another log: the seqs we kept mean nothing there. Rejoin from the rooms' heads.
    for (auto& [room, seq] : seqs_.rooms) seq = -1;
    notice(out, "the server's message log changed (epoch " + epoch + "): rejoining from now");
  }
  if (seqs_.epoch != epoch) {
    seqs_.epoch = epoch;
    dirty_ = true;
  }
  connected_ = true;
  notice(out, (welcomed_before_ ? "reconnected as " : "connected as ") + str(w, "user") +
                  " (instance " + str(w, "instance") + ")");
  welcomed_before_ = true;
  // Results of requests made on the last connection come to this session after the welcome;
  // those of joins are stale (the rejoin below replaces them), those of typing are not needed.
  for (auto it = pending_.begin(); it != pending_.end();) {
    const Op op = it->second.op;
    it = (op == Op::join || op == Op::rejoin || op == Op::typing) ? pending_.erase(it) : ++it;
  }
  for (const auto& [room, seq] : seqs_.rooms) send_join(room, true, out);
  for (const auto& s : unsent_) write_send(s, out);
}

void ChatSession::on_disconnect() {
  connected_ = false;
}

void ChatSession::on_frame(std::string_view frame, Output& out) {
  boost::system::error_code ec;
  const auto v = json::parse(frame, ec);
  if (ec || !v.is_object()) return;  // not ours to fix; the protocol says objects only
  const auto& o = v.get_object();
  const std::string type = str(o, "type");
  if (type == "result") {
    on_result(o, out);
  } else if (type == "message") {
    on_message(o, out);
  } else if (type == "event") {
    on_event(o, out);
  } else if (type == "welcome") {
    on_welcome(frame, out);
  }
}

void ChatSession::on_message(const json::object& m, Output& out) {
  const std::string room = str(m, "room");
  const int64_t seq = num(m, "seq", -1);
  auto it = seqs_.rooms.find(room);
  if (it == seqs_.rooms.end()) return;  // a room left while its messages were on the way
  if (seq <= it->second) return;        // seen already: a replay overlapping live delivery
  it->second = seq;
  dirty_ = true;
  out.shown.push_back(message_shown(m, Shown::Kind::message));
}

void ChatSession::on_event(const json::object& e, Output& out) {
  const std::string name = str(e, "event");
  Shown s;
  s.room = str(e, "room");
  s.user = str(e, "user");
  if (name == "room.created") {
    if (public_rooms_.size() < kMaxKnownRooms) public_rooms_.insert(s.room);
    if (s.user != user_) notice(out, s.user + " created the public room " + s.room);
    return;
  }
  if (name == "typing") {
    s.kind = Shown::Kind::typing;
  } else if (name == "member.joined") {
    s.kind = Shown::Kind::member_joined;
  } else if (name == "member.left") {
    s.kind = Shown::Kind::member_left;
  } else {
    return;  // unknown events are ignorable
  }
  out.shown.push_back(std::move(s));
}

void ChatSession::forget_room(const std::string& room) {
  if (seqs_.rooms.erase(room) > 0) dirty_ = true;
  if (current_ == room) current_ = seqs_.rooms.empty() ? std::string() : seqs_.rooms.begin()->first;
}

void ChatSession::on_result(const json::object& r, Output& out) {
  const auto it = pending_.find(str(r, "id"));
  if (it == pending_.end()) return;  // a duplicate answer (a re-sent send) or a stale join
  const Pending p = std::move(it->second);
  pending_.erase(it);

  const auto* okv = r.if_contains("ok");
  const bool ok = okv != nullptr && okv->is_bool() && okv->get_bool();
  if (!ok) {
    std::string code = "error";
    std::string message;
    if (const auto* e = r.if_contains("error"); e != nullptr && e->is_object()) {
      code = str(e->get_object(), "code");
      message = str(e->get_object(), "message");
    }
    const std::string what = code + (message.empty() ? "" : ": " + message);
    switch (p.op) {
      case Op::send: {
        std::string text;
        for (auto u = unsent_.begin(); u != unsent_.end(); ++u) {
          if (u->client_msg_id == p.client_msg_id) {
            text = u->text;
            unsent_.erase(u);
            break;
          }
        }
        error(out, "not sent (" + what + "): " + text, p.room);
        break;
      }
      case Op::join:
      case Op::rejoin:
        // A room we can no longer read (deleted data, membership) is not rejoined again.
        if (p.op == Op::rejoin) forget_room(p.room);
        error(out, "cannot join " + p.room + ": " + what, p.room);
        break;
      case Op::typing:
        break;
      default:
        error(out, what, p.room);
    }
    return;
  }

  switch (p.op) {
    case Op::join:
    case Op::rejoin: {
      const int64_t head = num(r, "head");
      auto [s, inserted] = seqs_.rooms.try_emplace(p.room, head);
      const int64_t since = s->second;
      // Joined without `since` (first time, or a new epoch): live messages follow the head.
      if (s->second < 0) s->second = head;
      if (inserted || since < 0) dirty_ = true;
      if (p.switch_to) current_ = p.room;
      if (p.op == Op::join) {
        notice(out, "joined " + p.room + " (/history shows earlier messages)", p.room);
      } else if (!inserted && since >= 0 && head > since) {
        notice(out,
               "resumed " + p.room + ": messages after seq " + std::to_string(since) + " follow",
               p.room);
      }
      break;
    }
    case Op::leave:
      notice(out, "left " + p.room, p.room);
      break;
    case Op::create:
      notice(out, "created " + p.room, p.room);
      send_join(p.room, false, out);
      break;
    case Op::invite:
      notice(out, "invited " + p.user + " to " + p.room, p.room);
      break;
    case Op::dm: {
      const std::string room = str(r, "room");
      if (!room.empty()) send_join(room, false, out);
      break;
    }
    case Op::history: {
      const auto* msgs = r.if_contains("messages");
      size_t n = 0;
      if (msgs != nullptr && msgs->is_array()) {
        n = msgs->get_array().size();
        notice(out,
               "history of " + p.room + ": " + std::to_string(n) + " messages" +
                   (r.if_contains("has_more") && r.at("has_more") == true ? " (more before)" : ""),
               p.room);
        for (const auto& m : msgs->get_array()) {
          if (m.is_object())
            out.shown.push_back(message_shown(m.get_object(), Shown::Kind::history));
        }
      }
      break;
    }
    case Op::presence: {
      std::string names;
      if (const auto* on = r.if_contains("online"); on != nullptr && on->is_array()) {
        for (const auto& u : on->get_array()) {
          if (!u.is_string()) continue;
          if (!names.empty()) names += ", ";
          names += std::string(u.get_string());
        }
      }
      notice(out, "online in " + p.room + ": " + (names.empty() ? "nobody" : names), p.room);
      break;
    }
    case Op::send:
      for (auto u = unsent_.begin(); u != unsent_.end(); ++u) {
        if (u->client_msg_id == p.client_msg_id) {
          unsent_.erase(u);
          break;
        }
      }
      break;
    case Op::typing:
      break;
  }
}

void ChatSession::typing(Output& out) {
  if (!connected_ || current_.empty()) return;
  request(Op::typing, "typing", current_, out);
}

void ChatSession::on_command(const ChatCommand& cmd, Output& out) {
  using K = CommandKind;
  if (cmd.kind == K::quit) {
    out.quit = true;
    return;
  }
  if (cmd.kind == K::help) {
    notice(out, std::string(command_help()));
    return;
  }
  if (cmd.kind == K::rooms) {
    // The protocol has no op that lists rooms: show the ones this client knows of.
    std::string joined;
    for (const auto& [room, seq] : seqs_.rooms) {
      joined += (joined.empty() ? "" : ", ") + room + (room == current_ ? " (current)" : "");
    }
    std::string others;
    for (const auto& room : public_rooms_) {
      if (!seqs_.rooms.contains(room)) others += (others.empty() ? "" : ", ") + room;
    }
    notice(out, "joined: " + (joined.empty() ? std::string("none") : joined));
    if (!others.empty()) notice(out, "public rooms created since you connected: " + others);
    return;
  }
  const bool needs_room = cmd.kind == K::say || cmd.kind == K::leave || cmd.kind == K::invite ||
                          cmd.kind == K::history || cmd.kind == K::who;
  if (needs_room && current_.empty()) {
    error(out, "no current room: /join ROOM, /create ROOM or /dm USER first");
    return;
  }
  if (cmd.kind == K::say) {
    if (unsent_.size() >= kMaxUnsentSends) {
      error(out, "too many messages waiting for the server; not sent: " + cmd.arg);
      return;
    }
    unsent_.push_back(UnsentSend{session_ + "-" + std::to_string(next_msg_++), current_, cmd.arg});
    if (connected_) {
      write_send(unsent_.back(), out);
    } else {
      notice(out, "offline: the message will be sent when the connection is back", current_);
    }
    return;
  }
  if (!connected_) {
    error(out, "offline: reconnecting, try again in a moment");
    return;
  }
  switch (cmd.kind) {
    case K::join:
      send_join(cmd.arg, false, out);
      break;
    case K::leave: {
      const std::string room = current_;
      request(Op::leave, "leave", room, out);
      forget_room(room);
      break;
    }
    case K::create: {
      const std::string id = "c" + std::to_string(next_id_++);
      json::object f{{"type", "create_room"}, {"id", id}, {"room", cmd.arg}};
      if (cmd.is_private) f["private"] = true;
      pending_[id] = Pending{Op::create, cmd.arg, {}, {}, true};
      out.frames.push_back(json::serialize(f));
      break;
    }
    case K::invite:
      request(Op::invite, "invite", current_, out, cmd.arg);
      break;
    case K::dm:
      request(Op::dm, "dm", {}, out, cmd.arg);
      break;
    case K::history: {
      const std::string id = "c" + std::to_string(next_id_++);
      json::object f{{"type", "history"}, {"id", id}, {"room", current_}, {"limit", cmd.limit}};
      pending_[id] = Pending{Op::history, current_, {}, {}, false};
      out.frames.push_back(json::serialize(f));
      break;
    }
    case K::who:
      request(Op::presence, "presence", current_, out);
      break;
    default:
      break;
  }
}

}  // namespace parley::client
