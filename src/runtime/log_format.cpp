#include "runtime/log_format.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <ctime>

#include "runtime/log_trace.h"

namespace parley {

namespace {

void append(spdlog::memory_buf_t& out, std::string_view s) {
  out.append(s.data(), s.data() + s.size());
}

// Text: ` trace_id=<32 hex> span_id=<16 hex>` at the end of a traced line, nothing otherwise.
class TraceFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg&, const std::tm&, spdlog::memory_buf_t& out) override {
    const TraceContext* t = LogTraceScope::current();
    if (t == nullptr) return;
    append(out, " trace_id=");
    append(out, t->trace_id_view());
    append(out, " span_id=");
    append(out, t->span_id_view());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<TraceFlag>();
  }
};

// The length of the UTF-8 sequence at @p s[i] if it is a valid one (no overlong forms, no
// surrogates, at most U+10FFFF), else 0.
size_t utf8_sequence(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  auto cont = [&](size_t k) { return k < s.size() && (byte(k) & 0xC0) == 0x80; };
  unsigned char c = byte(i);
  if (c >= 0xC2 && c <= 0xDF) return cont(i + 1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(i + 1) || !cont(i + 2)) return 0;
    unsigned char c1 = byte(i + 1);
    if (c == 0xE0 && c1 < 0xA0) return 0;   // overlong
    if (c == 0xED && c1 >= 0xA0) return 0;  // surrogates
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
    unsigned char c1 = byte(i + 1);
    if (c == 0xF0 && c1 < 0x90) return 0;   // overlong
    if (c == 0xF4 && c1 >= 0x90) return 0;  // past U+10FFFF
    return 4;
  }
  return 0;
}

class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& out) override {
    append(out, "{\"ts\":\"");
    append_time(msg.time, out);
    append(out, "\",\"level\":\"");
    auto level = spdlog::level::to_string_view(msg.level);
    append(out, {level.data(), level.size()});
    append(out, "\",\"msg\":\"");
    append_json_escaped({msg.payload.data(), msg.payload.size()}, out);
    out.push_back('"');
    if (const TraceContext* t = LogTraceScope::current()) {
      append(out, ",\"trace_id\":\"");
      append(out, t->trace_id_view());
      append(out, "\",\"span_id\":\"");
      append(out, t->span_id_view());
      out.push_back('"');
    }
    append(out, "}\n");
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }

 private:
  // 2026-12-07T15:49:12.123Z
  static void append_time(spdlog::log_clock::time_point tp, spdlog::memory_buf_t& out) {
    using namespace std::chrono;
    auto ms = duration_cast<milliseconds>(tp.time_since_epoch()).count();
    std::time_t secs = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[32];
    size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    append(out, {buf, n});
    int frac = static_cast<int>(ms % 1000);
    char tail[6] = {'.',
                    static_cast<char>('0' + frac / 100),
                    static_cast<char>('0' + frac / 10 % 10),
                    static_cast<char>('0' + frac % 10),
                    'Z',
                    '\0'};
    append(out, {tail, 5});
  }
};

}  // namespace

bool parse_log_format(std::string_view name, LogFormat& out) {
  if (name == "text") {
    out = LogFormat::text;
    return true;
  }
  if (name == "json") {
    out = LogFormat::json;
    return true;
  }
  return false;
}

std::unique_ptr<spdlog::formatter> make_log_formatter(LogFormat format) {
  if (format == LogFormat::json) return std::make_unique<JsonFormatter>();
  // spdlog's default pattern, plus the trace of a traced line.
  auto f = std::make_unique<spdlog::pattern_formatter>();
  f->add_flag<TraceFlag>('*').set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%n] [%^%l%$] %v%*");
  return f;
}

void configure_logging(LogFormat format, spdlog::level::level_enum level) {
  spdlog::set_formatter(make_log_formatter(format));
  spdlog::set_level(level);
}

void append_json_escaped(std::string_view s, spdlog::memory_buf_t& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      size_t n = utf8_sequence(s, i);
      if (n == 0) {
        append(out, "\\ufffd");  // not UTF-8: JSON text must be
        ++i;
      } else {
        append(out, s.substr(i, n));
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"':
        append(out, "\\\"");
        break;
      case '\\':
        append(out, "\\\\");
        break;
      case '\n':
        append(out, "\\n");
        break;
      case '\r':
        append(out, "\\r");
        break;
      case '\t':
        append(out, "\\t");
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xf]};
          append(out, {esc, 6});
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
}

}  // namespace parley
