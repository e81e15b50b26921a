// W3C traceparent: what parley accepts from a client (strictly version 00), what it makes
// without one, and what it hands on with a command's record.
#include "domain/trace_context.h"

#include <gtest/gtest.h>

#include <string>

namespace parley {
namespace {

const std::string kValid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

std::string header_of(const TraceContext& t) {
  auto h = t.header();
  return std::string(h.data(), h.size());
}

TEST(TraceContext, AValidTraceparentIsTaken) {
  auto t = parse_traceparent(kValid);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->trace_id_view(), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(std::string(t->parent_id.data(), 16), "00f067aa0ba902b7");
  EXPECT_TRUE(t->has_parent);
  EXPECT_EQ(t->flags, 1);
  EXPECT_FALSE(t->empty());
  EXPECT_TRUE(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"));
  EXPECT_EQ(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff")->flags,
            0xff);
}

TEST(TraceContext, AnythingElseIsRefused) {
  const std::string bad[] = {
      "",
      "00",
      kValid + "-",                                               // a field too many
      kValid.substr(0, 54),                                       // one char short
      "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  // another version
      "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  // the forbidden version
      "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  // all-zero trace id
      "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  // all-zero parent id
      "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  // upper case
      "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",  // not hex
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x",  // flags not hex
      "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  // separator
      "00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01",  // separator
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7_01",  // separator
      " 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",  // whitespace
      std::string(5000, 'a'),                                     // long
      std::string("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0\0", 55),
  };
  for (const auto& h : bad) EXPECT_FALSE(parse_traceparent(h)) << h;
}

TEST(TraceContext, ACallersTraceIsContinuedWithANewSpan) {
  auto caller = parse_traceparent(kValid);
  TraceContext t = start_span(caller, 0, 0, 0x0123456789abcdefULL);
  EXPECT_EQ(t.trace_id_view(), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(t.span_id_view(), "0123456789abcdef");
  EXPECT_EQ(t.flags, 1);
  // What it hands on: the same trace, parley's span as the parent, the caller's flags.
  EXPECT_EQ(header_of(t), "00-4bf92f3577b34da6a3ce929d0e0e4736-0123456789abcdef-01");
}

TEST(TraceContext, WithoutOneANewTraceIsStarted) {
  TraceContext t = start_span(std::nullopt, 0x1111222233334444ULL, 0x5555666677778888ULL, 0xabcULL);
  EXPECT_EQ(t.trace_id_view(), "11112222333344445555666677778888");
  EXPECT_EQ(t.span_id_view(), "0000000000000abc");
  EXPECT_FALSE(t.has_parent);
  EXPECT_EQ(t.flags, 0);
  EXPECT_TRUE(parse_traceparent(header_of(t)));
  // Zeros from the generator never make an all-zero (invalid) id.
  TraceContext z = start_span(std::nullopt, 0, 0, 0);
  EXPECT_TRUE(parse_traceparent(header_of(z))) << header_of(z);
}

TEST(TraceContext, APropagatedHeaderNamesTheWritersSpan) {
  auto t = parse_propagated("00-4bf92f3577b34da6a3ce929d0e0e4736-0123456789abcdef-01");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->span_id_view(), "0123456789abcdef");
  EXPECT_FALSE(t->has_parent);
  EXPECT_FALSE(parse_propagated("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"));
}

TEST(TraceContext, ADefaultContextIsEmpty) {
  EXPECT_TRUE(TraceContext{}.empty());
}

}  // namespace
}  // namespace parley
