#pragma once
// What a line typed into `parley chat` asks for: a slash command or a message to the current room.
// Pure, so the whole command language is unit-tested without a terminal or a server.
#include <string>
#include <string_view>

namespace parley::client {

enum class CommandKind { say, join, leave, create, invite, dm, history, who, rooms, quit, help };

struct ChatCommand {
  CommandKind kind = CommandKind::say;
  std::string arg;          // the text to say, or the room or user named
  bool is_private = false;  // /create ROOM --private
  int limit = 20;           // /history [N]
};

struct ParsedLine {
  bool ok = true;
  bool empty = false;  // a blank line: nothing to do
  ChatCommand command;
  std::string error;  // for the user, when !ok
};

/// Parses one line. A line starting with "/" is a command (unknown ones are errors, "//" sends a
/// line starting with "/"); anything else is said to the current room as typed.
ParsedLine parse_line(std::string_view line);

/// The command summary shown by /help and after an unknown command.
std::string_view command_help();

}  // namespace parley::client
