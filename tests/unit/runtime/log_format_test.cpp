// The log formats: a JSON line is one valid object whatever the message holds, and a traced
// scope puts its trace on every line, in both formats.
#include "runtime/log_format.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <sstream>
#include <string>

#include "runtime/log_trace.h"

namespace parley {
namespace {

struct Captured {
  std::ostringstream out;
  std::shared_ptr<spdlog::logger> logger;
  explicit Captured(LogFormat format) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_st>(out);
    logger = std::make_shared<spdlog::logger>("parley", sink);
    logger->set_formatter(make_log_formatter(format));
    logger->set_level(spdlog::level::debug);
  }
};

TraceContext a_trace() {
  return start_span(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"), 0,
                    0, 0x0123456789abcdefULL);
}

TEST(LogFormat, AJsonLineIsOneObjectWithItsFields) {
  Captured c(LogFormat::json);
  c.logger->info("room {} said \"{}\"\nand then\t{}", "lobby", "hi", "back\\slash");
  std::string line = c.out.str();
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line per message: " << line;
  auto v = boost::json::parse(line).as_object();
  EXPECT_EQ(v.at("level").as_string(), "info");
  EXPECT_EQ(v.at("msg").as_string(), "room lobby said \"hi\"\nand then\tback\\slash");
  std::string ts(v.at("ts").as_string());
  EXPECT_EQ(ts.size(), 24u) << ts;  // 2026-12-07T15:49:12.123Z
  EXPECT_EQ(ts.back(), 'Z');
  EXPECT_FALSE(v.contains("trace_id"));
}

TEST(LogFormat, ControlCharactersAndBadUtf8StayValidJson) {
  Captured c(LogFormat::json);
  std::string nasty = std::string(
                          "a\x01"
                          "b\x7f"
                          "c\r",
                          6) +
                      "\xff\xfe" + "\xc3\xa9" + "\xed\xa0\x80" + "\xf0\x9f\x98\x80" + "\xe2\x82";
  c.logger->warn("{}", nasty);
  auto v = boost::json::parse(c.out.str()).as_object();
  EXPECT_EQ(v.at("level").as_string(), "warning");
  // Valid UTF-8 (é, an emoji) kept; each byte that is not U+FFFD; controls escaped.
  EXPECT_EQ(v.at("msg").as_string(),
            "a\x01"
            "b\x7f"
            "c\r\xef\xbf\xbd\xef\xbf\xbd\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
            "\xf0\x9f\x98\x80\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_NE(c.out.str().find("\\u0001"), std::string::npos);
}

TEST(LogFormat, ATracedScopeAddsItsTraceToEveryLine) {
  TraceContext t = a_trace();
  Captured json(LogFormat::json);
  Captured text(LogFormat::text);
  {
    LogTraceScope scope(t);
    json.logger->debug("inside");
    text.logger->debug("inside");
    {
      LogTraceScope none(TraceContext{});
      json.logger->debug("an empty trace is none");
    }
  }
  json.logger->debug("after");
  text.logger->debug("after");
  std::istringstream lines(json.out.str());
  std::string line;
  std::getline(lines, line);
  auto inside = boost::json::parse(line).as_object();
  EXPECT_EQ(inside.at("trace_id").as_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(inside.at("span_id").as_string(), "0123456789abcdef");
  std::getline(lines, line);
  EXPECT_FALSE(boost::json::parse(line).as_object().contains("trace_id")) << line;
  std::getline(lines, line);
  EXPECT_FALSE(boost::json::parse(line).as_object().contains("trace_id")) << line;

  std::string out = text.out.str();
  auto first = out.substr(0, out.find('\n'));
  EXPECT_NE(
      first.find("] inside trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=0123456789abcdef"),
      std::string::npos)
      << first;
  EXPECT_EQ(out.substr(first.size() + 1).find("trace_id"), std::string::npos) << out;
}

TEST(LogFormat, AClientChosenStringCannotEndATextLine) {
  Captured text(LogFormat::text);
  text.logger->info("command ping id {} from alice",
                    log_safe("x\"\n[2026] [parley] [error] forged\\"));
  std::string out = text.out.str();
  EXPECT_EQ(out.find('\n'), out.size() - 1) << out;
  EXPECT_NE(out.find(R"(id x\"\u000a[2026] [parley] [error] forged\\ from alice)"),
            std::string::npos)
      << out;
}

TEST(LogFormat, NamesAreParsed) {
  LogFormat f = LogFormat::text;
  EXPECT_TRUE(parse_log_format("json", f));
  EXPECT_EQ(f, LogFormat::json);
  EXPECT_TRUE(parse_log_format("text", f));
  EXPECT_EQ(f, LogFormat::text);
  EXPECT_FALSE(parse_log_format("xml", f));
}

}  // namespace
}  // namespace parley
