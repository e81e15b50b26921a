#pragma once
// How `parley chat` prints what arrives: one line per message, event or notice, colored only
// when asked (stdout is a terminal and NO_COLOR is not set). Pure, so it is unit-tested.
#include <cstdint>
#include <string>
#include <string_view>

#include "client/chat_session.h"

namespace parley::cli {

/// True when lines should carry colors: stdout is a terminal and NO_COLOR is unset or empty
/// (https://no-color.org). The arguments are isatty(1) and getenv("NO_COLOR").
bool use_color(bool stdout_is_tty, const char* no_color);

/// @p text with every control character (C0, DEL, C1: what could move the cursor or change the
/// terminal's state) replaced by '?', so another user's message cannot rewrite the screen.
std::string printable(std::string_view text);

/// "HH:MM" of a unix time in ms, in the local time zone.
std::string clock_of(int64_t ts_ms);

/// The line for @p s (no newline). @p clock is clock_of(s.ts) for messages.
std::string format_shown(const client::Shown& s, bool color, std::string_view clock);

/// The prompt: "[room]> ", or "> " with no current room, "(offline) " in front when offline.
std::string prompt_for(std::string_view room, bool online);

}  // namespace parley::cli
