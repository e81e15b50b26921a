#pragma once
// The span of one command: the caller's trace (a valid `traceparent`) continued, or a new trace;
// and new traces for what no command caused.
// The ids come from a per-thread generator (splitmix64, seeded once per thread from
// std::random_device): a command costs three multiplications, no lock and no system call.
// Trace ids need to be unique, not secret (W3C Trace Context, "trace-id"): they are never
// used to authorise anything.
#include <optional>

#include "domain/trace_context.h"

namespace parley {

TraceContext new_command_span(const std::optional<TraceContext>& caller);

/// A new trace, for what no command caused (a timer's record, a connection's claim).
inline TraceContext new_trace() {
  return new_command_span(std::nullopt);
}

}  // namespace parley
