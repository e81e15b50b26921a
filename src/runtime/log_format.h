#pragma once
// How parley's log lines are spelled (`--log-format`): text for people (spdlog's usual line,
// with ` trace_id=... span_id=...` appended inside a traced scope), or JSON lines for log
// pipelines: one object per line with `ts` (UTC, ms), `level`, `msg`, and `trace_id` /
// `span_id` inside a traced scope (log_trace.h). The message is escaped as a JSON string
// (quotes, backslashes, control characters; bytes that are not UTF-8 become U+FFFD), so a line
// is always one valid object, whatever a client put into a logged name.
#include <spdlog/common.h>
#include <spdlog/formatter.h>

#include <memory>
#include <string>
#include <string_view>

namespace parley {

enum class LogFormat { text, json };

/// "text" or "json"; false for anything else.
bool parse_log_format(std::string_view name, LogFormat& out);

/// The formatter of @p format for spdlog's sinks.
std::unique_ptr<spdlog::formatter> make_log_formatter(LogFormat format);

/// Sets the default logger's format and level (main, once, before any thread logs).
void configure_logging(LogFormat format, spdlog::level::level_enum level);

/// Appends @p text to @p out as the body of a JSON string (no quotes around it).
void append_json_escaped(std::string_view text, spdlog::memory_buf_t& out);

/// A client-chosen string in a log line (a request id, an op name, an error message that
/// quotes one): formatted with its control characters, backslashes and quotes escaped, so a
/// client cannot end a text line and forge the next one. Formatted only if the line is logged.
struct LogSafe {
  std::string_view text;
};
inline LogSafe log_safe(std::string_view text) {
  return LogSafe{text};
}

}  // namespace parley

template <>
struct fmt::formatter<parley::LogSafe> : fmt::formatter<std::string_view> {
  template <typename Context>
  auto format(const parley::LogSafe& s, Context& ctx) const -> decltype(ctx.out()) {
    static constexpr char kHex[] = "0123456789abcdef";
    auto out = ctx.out();
    for (char ch : s.text) {
      unsigned char c = static_cast<unsigned char>(ch);
      if (c == '"' || c == '\\') {
        *out++ = '\\';
        *out++ = ch;
      } else if (c < 0x20 || c == 0x7f) {
        for (char e : {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xf]}) *out++ = e;
      } else {
        *out++ = ch;
      }
    }
    return out;
  }
};
