#pragma once
// The span of one command: the caller's trace (a valid `traceparent`) continued, or a new trace.
// The ids come from a per-thread generator (splitmix64, seeded once per thread from
// std::random_device): a command costs three multiplications, no lock and no system call.
// Trace ids need to be unique, not secret (W3C Trace Context, "trace-id"): they are never
// used to authorise anything.
#include <optional>

#include "domain/trace_context.h"

namespace parley {

TraceContext new_command_span(const std::optional<TraceContext>& caller);

}  // namespace parley
