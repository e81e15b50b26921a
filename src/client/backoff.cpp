#include "client/backoff.h"

#include <algorithm>
#include <charconv>

namespace parley::client {

std::chrono::milliseconds Backoff::ceiling() const {
  // base * 2^attempts without overflow: stop doubling once past the cap.
  auto c = p_.base;
  for (int i = 0; i < attempts_ && c < p_.cap; ++i) c *= 2;
  return std::min(c, p_.cap);
}

std::chrono::milliseconds Backoff::next(double u, std::optional<std::chrono::seconds> retry_after) {
  u = std::clamp(u, 0.0, 1.0);
  const auto ceil = ceiling();
  ++attempts_;
  if (retry_after) {
    const std::chrono::milliseconds r = std::min(*retry_after, p_.max_retry_after);
    const auto spread = std::min(ceil, r);
    return r + std::chrono::milliseconds(static_cast<long long>(u * spread.count()));
  }
  return std::chrono::milliseconds(static_cast<long long>(u * ceil.count()));
}

std::optional<std::chrono::seconds> parse_retry_after(std::string_view value) {
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  if (value.empty() || value.size() > 10) return std::nullopt;
  long long s = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), s);
  if (ec != std::errc{} || end != value.data() + value.size() || s < 0) return std::nullopt;
  return std::chrono::seconds(s);
}

}  // namespace parley::client
