#include "cli/bench/retry_schedule.h"

#include <random>

namespace parley::bench {

double jitter_draw() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

bool is_final_refusal(int http_status) {
  return http_status == 400 || http_status == 401 || http_status == 403;
}

std::optional<std::chrono::milliseconds> RetrySchedule::after(const ConnectOutcome& failed,
                                                              double u) {
  if (failed.ok) return std::nullopt;
  const bool told = failed.http_status == 503 && failed.retry_after_s.has_value();
  if (on_ == RetryOn::told && !told) return std::nullopt;
  if (is_final_refusal(failed.http_status)) return std::nullopt;
  return backoff_.next(u, told ? failed.retry_after_s : std::nullopt);
}

}  // namespace parley::bench
