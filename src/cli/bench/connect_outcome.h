#pragma once
// How one connect + upgrade attempt ended: plain data, so the retry schedule that reads it is
// pure and unit-tested.
#include <chrono>
#include <optional>
#include <string>

namespace parley::bench {

struct ConnectOutcome {
  bool ok = false;
  int http_status = 0;       // the upgrade was answered with this status instead of 101
  bool retry_after = false;  // ... and carried Retry-After
  std::optional<std::chrono::seconds> retry_after_s;  // its value, when in delta-seconds form
  std::string reason;  // "ok", "http_503", "timeout", "refused", "close_1013", ...
};

}  // namespace parley::bench
