#pragma once
// One decoded command in flight, from its frame to its one result. Owned by shared pointers
// held by whatever stage has it (admission's barrier queue, a use case's completion, the ttl
// timer); touched only on its client's worker.
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <string>

#include "domain/deadline.h"
#include "domain/trace_context.h"
#include "gateway/client.h"
#include "gateway/codec.h"

namespace parley {

struct OpSpec;  // admission.h

struct Command {
  std::shared_ptr<Client> client;
  codec::Request req;
  const OpSpec* op = nullptr;  // its op's entry in admission's table, looked up once; null: unknown
  size_t frame_bytes = 0;      // what it costs its connection's in-flight budget
  bool is_barrier = false;
  bool is_heavy = false;  // counted in its client's reads in flight
  bool counted = false;   // in its client's in-flight count and bytes
  std::string raw;        // the frame as sent, kept for the dead-letter record when it has a ttl
  DeadlinePtr deadline;
  TraceContext trace;  // the caller's trace with parley's span, or a new trace (trace_ids.h)
  std::unique_ptr<boost::asio::steady_timer> timer;
  bool answered = false;
  int64_t admitted_ns = 0;  // monotonic_ns() when its frame was decoded: latency by op
};

using CommandPtr = std::shared_ptr<Command>;

}  // namespace parley
