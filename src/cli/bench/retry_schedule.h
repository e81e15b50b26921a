#pragma once
// When a storm connection tries again after a failed attempt: the way parley's own clients do
// (client/backoff.h, the same code): a 503's Retry-After is waited out plus full jitter, so a
// herd refused together comes back spread; any other transient failure gets exponential
// back-off with full jitter; a refusal of the client itself (400, 401, 403) is final, as it is
// for the JavaScript library and `parley chat`. Pure: the random draw is passed in.
#include <chrono>
#include <optional>

#include "cli/bench/connect_outcome.h"
#include "client/backoff.h"

namespace parley::bench {

enum class RetryOn {
  told,       // only a 503 with Retry-After: the server asked for it (set-up connections)
  transient,  // that, and timeouts, resets, refusals and other statuses (a reconnecting client)
};

class RetrySchedule {
 public:
  explicit RetrySchedule(RetryOn on, client::BackoffPolicy policy = {})
      : on_(on), backoff_(policy) {}

  /// The wait before the next attempt after @p failed, or nullopt: do not try again. @p u is a
  /// uniform draw in [0, 1). Counts the attempt.
  std::optional<std::chrono::milliseconds> after(const ConnectOutcome& failed, double u);

  int retries() const { return backoff_.attempts(); }

 private:
  RetryOn on_;
  client::Backoff backoff_;
};

/// A uniform draw in [0, 1) from the calling thread's generator (the only impure part here).
double jitter_draw();

/// A refusal no retry can change: the request or the client's credentials are wrong.
bool is_final_refusal(int http_status);

}  // namespace parley::bench
