#include "client/chat_command.h"

#include <charconv>
#include <vector>

#include "domain/names.h"

namespace parley::client {
namespace {

std::vector<std::string_view> words(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    size_t j = i;
    while (j < s.size() && s[j] != ' ' && s[j] != '\t') ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

ParsedLine fail(std::string message) {
  ParsedLine p;
  p.ok = false;
  p.error = std::move(message);
  return p;
}

ParsedLine make(CommandKind kind, std::string_view arg = {}) {
  ParsedLine p;
  p.command.kind = kind;
  p.command.arg = std::string(arg);
  return p;
}

bool blank(std::string_view s) {
  return s.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

}  // namespace

ParsedLine parse_line(std::string_view line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (blank(line)) {
    ParsedLine p;
    p.empty = true;
    return p;
  }
  if (line[0] != '/') return make(CommandKind::say, line);
  if (line.size() > 1 && line[1] == '/') return make(CommandKind::say, line.substr(1));

  const auto w = words(line);
  const std::string_view name = w[0].substr(1);
  const size_t nargs = w.size() - 1;

  if (name == "quit" || name == "exit") {
    if (nargs != 0) return fail("usage: /quit");
    return make(CommandKind::quit);
  }
  if (name == "help") return make(CommandKind::help);
  if (name == "leave") {
    if (nargs != 0) return fail("usage: /leave (leaves the current room)");
    return make(CommandKind::leave);
  }
  if (name == "who") {
    if (nargs != 0) return fail("usage: /who");
    return make(CommandKind::who);
  }
  if (name == "rooms") {
    if (nargs != 0) return fail("usage: /rooms");
    return make(CommandKind::rooms);
  }
  if (name == "join") {
    if (nargs != 1) return fail("usage: /join ROOM");
    if (!valid_any_room_name(w[1])) return fail("room names are 1-64 chars of [A-Za-z0-9_.-]");
    return make(CommandKind::join, w[1]);
  }
  if (name == "create") {
    bool is_private = false;
    std::string_view room;
    for (size_t i = 1; i < w.size(); ++i) {
      if (w[i] == "--private") {
        is_private = true;
      } else if (room.empty() && w[i][0] != '-') {
        room = w[i];
      } else {
        return fail("usage: /create ROOM [--private]");
      }
    }
    if (room.empty()) return fail("usage: /create ROOM [--private]");
    if (!valid_room_name(room)) return fail("room names are 1-64 chars of [A-Za-z0-9_.-]");
    auto p = make(CommandKind::create, room);
    p.command.is_private = is_private;
    return p;
  }
  if (name == "invite" || name == "dm") {
    if (nargs != 1) return fail(name == "dm" ? "usage: /dm USER" : "usage: /invite USER");
    if (!valid_user_name(w[1])) return fail("user names are 1-32 chars of [A-Za-z0-9_.-]");
    return make(name == "dm" ? CommandKind::dm : CommandKind::invite, w[1]);
  }
  if (name == "history") {
    if (nargs > 1) return fail("usage: /history [N] (N: 1-200)");
    auto p = make(CommandKind::history);
    if (nargs == 1) {
      int n = 0;
      const auto s = w[1];
      const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
      if (ec != std::errc{} || end != s.data() + s.size() || n < 1 || n > 200) {
        return fail("usage: /history [N] (N: 1-200)");
      }
      p.command.limit = n;
    }
    return p;
  }
  return fail("unknown command: /" + std::string(name) + " (/help lists them)");
}

std::string_view command_help() {
  return "/join ROOM  /leave  /create ROOM [--private]  /invite USER  /dm USER  /history [N]  "
         "/who  /rooms  /quit  (a plain line is sent to the current room; //text sends /text)";
}

}  // namespace parley::client
