#pragma once
// When to try to reconnect: exponential back-off with full jitter, and the server's Retry-After.
// Pure: the random draw is passed in, so the bounds are unit-tested without clocks or sleeps.
#include <chrono>
#include <optional>
#include <string_view>

namespace parley::client {

struct BackoffPolicy {
  std::chrono::milliseconds base{500};        // the ceiling of the first draw
  std::chrono::milliseconds cap{15000};       // the ceiling never grows past this
  std::chrono::seconds max_retry_after{300};  // a larger Retry-After is read as this
};

class Backoff {
 public:
  explicit Backoff(BackoffPolicy policy = {}) : p_(policy) {}

  /// The delay before the next attempt, and counts the attempt. @p u is a uniform draw in [0, 1).
  /// Full jitter: u * min(cap, base * 2^attempts), so a crowd that lost its server together does
  /// not come back together. With @p retry_after (a 503's Retry-After) the delay is at least that:
  /// retry_after + u * min(ceiling, retry_after), which spreads the refused crowd over [r, 2r).
  std::chrono::milliseconds next(double u, std::optional<std::chrono::seconds> retry_after = {});

  /// After a connection that got its welcome: the next failure starts from `base` again.
  void reset() { attempts_ = 0; }

  int attempts() const { return attempts_; }
  /// The bound of the next draw: min(cap, base * 2^attempts).
  std::chrono::milliseconds ceiling() const;

 private:
  BackoffPolicy p_;
  int attempts_ = 0;
};

/// Reads a Retry-After header in its delta-seconds form ("120"); empty for anything else (the
/// HTTP-date form is not worth a date parser here: the back-off applies instead).
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value);

}  // namespace parley::client
