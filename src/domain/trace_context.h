#pragma once
// A command's place in a distributed trace (W3C Trace Context,
// https://www.w3.org/TR/trace-context/). A client may send `traceparent` with a command; parley
// keeps its trace id and flags, makes a span id of its own for the command, and hands `00-<trace
// id>-<parley's span id>-<flags>` on with the command's record to the other instances and the
// persister, so every log line about the command, in every process, names the same trace. Without a
// (valid) traceparent, parley starts a new trace. Fixed-size: no allocation, bounded whatever the
// client sends.
#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace parley {

struct TraceContext {
  static constexpr size_t kTraceIdChars = 32;
  static constexpr size_t kSpanIdChars = 16;
  // "00-" + 32 + "-" + 16 + "-" + 2: the only length version 00 has.
  static constexpr size_t kHeaderChars = 55;

  std::array<char, kTraceIdChars> trace_id{};  // lowercase hex, not all zeros
  std::array<char, kSpanIdChars> span_id{};    // this process's span: lowercase hex
  std::array<char, kSpanIdChars> parent_id{};  // the caller's span, if has_parent
  bool has_parent = false;
  uint8_t flags = 0;  // trace-flags (bit 0: sampled), kept as the caller sent them

  /// Whether a trace is set (a default TraceContext is none).
  bool empty() const { return trace_id[0] == '\0'; }
  std::string_view trace_id_view() const { return {trace_id.data(), trace_id.size()}; }
  std::string_view span_id_view() const { return {span_id.data(), span_id.size()}; }
  /// `00-<trace_id>-<span_id>-<flags>`: what this span hands on (its children's parent).
  std::array<char, kHeaderChars> header() const;
};

/// A traceparent header, checked strictly: version 00, exactly 55 chars, lowercase hex, trace id
/// and parent id not all zeros. The result has has_parent set and no span id yet. Anything
/// else (another version, upper case, extra fields, a wrong length): nullopt.
std::optional<TraceContext> parse_traceparent(std::string_view header);

/// A record's traceparent as its writer made it: the same checks, but the header's parent id is
/// the span to log (the writer's span: this process continues it, it does not start one).
std::optional<TraceContext> parse_propagated(std::string_view header);

/// The context of one command: the caller's trace (from parse_traceparent) continued with a
/// new span, or, without one, a new trace. @p r1, @p r2, @p r3 are random words (the caller
/// owns the generator): the trace id is r1:r2, the span id r3; zeros are replaced, since W3C
/// forbids an all-zero id.
TraceContext start_span(const std::optional<TraceContext>& caller, uint64_t r1, uint64_t r2,
                        uint64_t r3);

}  // namespace parley
