#include "cli/chat_format.h"

#include <ctime>

namespace parley::cli {
namespace {

constexpr std::string_view kReset = "\x1b[0m";
constexpr std::string_view kDim = "\x1b[2m";
constexpr std::string_view kBold = "\x1b[1m";
constexpr std::string_view kRed = "\x1b[31m";
constexpr std::string_view kCyan = "\x1b[36m";

// A user keeps one color: picked from their name, so two people rarely share one.
std::string_view user_color(std::string_view user) {
  static constexpr std::string_view kColors[] = {"\x1b[32m", "\x1b[33m", "\x1b[34m",
                                                 "\x1b[35m", "\x1b[92m", "\x1b[94m"};
  uint32_t h = 2166136261u;  // FNV-1a
  for (unsigned char c : user) h = (h ^ c) * 16777619u;
  return kColors[h % (sizeof(kColors) / sizeof(kColors[0]))];
}

std::string paint(bool color, std::string_view code, std::string_view text) {
  if (!color) return std::string(text);
  return std::string(code) + std::string(text) + std::string(kReset);
}

}  // namespace

bool use_color(bool stdout_is_tty, const char* no_color) {
  return stdout_is_tty && (no_color == nullptr || no_color[0] == '\0');
}

std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f) {
      out += '?';
    } else if (c == 0xc2 && i + 1 < text.size() &&
               static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(text[i + 1]) <= 0x9f) {
      out += '?';  // U+0080-U+009F, the C1 controls (0x9b is a CSI on some terminals)
      ++i;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string clock_of(int64_t ts_ms) {
  const std::time_t t = static_cast<std::time_t>(ts_ms / 1000);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[8];
  std::strftime(buf, sizeof buf, "%H:%M", &tm);
  return buf;
}

std::string format_shown(const client::Shown& s, bool color, std::string_view clock) {
  using K = client::Shown::Kind;
  const std::string room = paint(color, kCyan, "[" + printable(s.room) + "]");
  const std::string user = printable(s.user);
  switch (s.kind) {
    case K::message:
    case K::history:
      return paint(color, kDim, clock) + " " + room + " " +
             paint(color, std::string(kBold) + std::string(user_color(user)), user) + ": " +
             printable(s.text);
    case K::typing:
      return paint(color, kDim, "-- " + user + " is typing in " + printable(s.room));
    case K::member_joined:
      return paint(color, kDim, "-- " + user + " joined " + printable(s.room));
    case K::member_left:
      return paint(color, kDim, "-- " + user + " left " + printable(s.room));
    case K::notice:
      return paint(color, kDim, "-- " + printable(s.text));
    case K::error:
      return paint(color, kRed, "!! " + printable(s.text));
  }
  return printable(s.text);
}

std::string prompt_for(std::string_view room, bool online) {
  std::string p = online ? "" : "(offline) ";
  p += room.empty() ? std::string("> ") : "[" + printable(room) + "]> ";
  return p;
}

}  // namespace parley::cli
