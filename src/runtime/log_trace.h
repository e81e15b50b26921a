#pragma once
// Which trace the log lines of this thread belong to, for the log formats (log_format.h): a
// scope around the lines about one command puts its trace id and span id on each of them,
// without passing the trace through every spdlog call. One pointer per thread; setting it costs
// nothing when the lines are not logged (level off), so a scope may wrap a debug line on the
// delivery path.
#include "domain/trace_context.h"

namespace parley {

class LogTraceScope {
 public:
  /// Lines logged on this thread until the scope ends carry @p trace (none if it is empty).
  explicit LogTraceScope(const TraceContext& trace) : previous_(slot()) {
    slot() = trace.empty() ? nullptr : &trace;
  }
  ~LogTraceScope() { slot() = previous_; }
  LogTraceScope(const LogTraceScope&) = delete;
  LogTraceScope& operator=(const LogTraceScope&) = delete;

  /// The trace of the current scope on this thread, or null.
  static const TraceContext* current() { return slot(); }
  /// A copy of it, to carry to another thread or record (empty if there is none).
  static TraceContext current_or_none() { return slot() ? *slot() : TraceContext{}; }

 private:
  static const TraceContext*& slot() {
    thread_local const TraceContext* trace = nullptr;
    return trace;
  }
  const TraceContext* previous_;
};

}  // namespace parley
