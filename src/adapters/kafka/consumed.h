#pragma once
// One record read from a partition, as the consumers of this folder hand it over.
#include <cstdint>
#include <string>

#include "domain/trace_context.h"

namespace parley {

struct Consumed {
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t timestamp_ms = 0;
  bool log_append_time = false;  // timestamp_ms is the broker's append time
  std::string key;
  std::string value;
  // It carries a valid MAC under the cluster's key for its topic (record_mac.h). Whoever reads
  // a record checks this first: one that is not authentic is dropped, never acted on.
  bool authentic = false;
  // The trace of the command that wrote it (its `traceparent` header, covered by the MAC), the
  // writer's span as span_id; empty if it has none or is not authentic.
  TraceContext trace{};
};

}  // namespace parley
