#include "cli/bench/report.h"

#include <sys/resource.h>
#include <unistd.h>

#include <spdlog/fmt/fmt.h>
#include <cstdio>

namespace parley::bench {

namespace {
double ms(uint64_t ns) {
  return static_cast<double>(ns) / 1e6;
}
bool on_terminal() {
  static const bool tty = ::isatty(STDERR_FILENO) == 1;
  return tty;
}
}  // namespace

double process_cpu_seconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  auto secs = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return secs(ru.ru_utime) + secs(ru.ru_stime);
}

uint64_t PhaseStats::error_count() const {
  uint64_t n = 0;
  for (const auto& [code, count] : errors) n += count;
  return n;
}

double PhaseStats::delivered_ratio() const {
  return expected == 0 ? 1.0 : static_cast<double>(delivered) / static_cast<double>(expected);
}

bool PhaseStats::passes(double p99_bound_ms) const {
  // More deliveries than expected are duplicates: a failure too.
  return expected > 0 && delivered <= expected && delivered_ratio() >= 0.999 &&
         ms(latency.percentile(99)) <= p99_bound_ms;
}

boost::json::object latency_json(const Histogram& h) {
  boost::json::object o;
  o["count"] = h.count();
  o["p50"] = ms(h.percentile(50));
  o["p90"] = ms(h.percentile(90));
  o["p99"] = ms(h.percentile(99));
  o["p99.9"] = ms(h.percentile(99.9));
  o["max"] = ms(h.max());
  return o;
}

boost::json::object phase_json(const PhaseStats& s) {
  boost::json::object o;
  o["rate"] = s.rate;
  o["duration_s"] = s.duration_s;
  o["sent"] = s.sent;
  o["acked"] = s.acked;
  o["delivered"] = s.delivered;
  o["expected"] = s.expected;
  boost::json::object errors;
  for (const auto& [code, n] : s.errors) errors[code] = n;
  o["errors"] = std::move(errors);
  o["latency_ms"] = latency_json(s.latency);
  o["max_send_lag_ms"] = ms(s.max_send_lag_ns);
  o["gen_cpu_pct"] = s.duration_s > 0 ? 100.0 * s.gen_cpu_s / s.duration_s : 0.0;
  return o;
}

std::string phase_line(const PhaseStats& s) {
  std::string errors;
  for (const auto& [code, n] : s.errors) errors += fmt::format(" {}={}", code, n);
  const auto& h = s.latency;
  return fmt::format(
      "rate {:.0f}/s: sent {} acked {} delivered {}/{} ({:.3f} %) latency ms p50 {:.2f} p90 {:.2f} "
      "p99 {:.2f} p99.9 {:.2f} max {:.2f}{}{}",
      s.rate, s.sent, s.acked, s.delivered, s.expected, 100.0 * s.delivered_ratio(),
      ms(h.percentile(50)), ms(h.percentile(90)), ms(h.percentile(99)), ms(h.percentile(99.9)),
      ms(h.max()), errors.empty() ? "" : " errors:", errors);
}

std::string fmt_progress(const std::string& scenario, double seconds, const PhaseStats& s) {
  return fmt::format(
      "[{}] {:.1f} s: rate {:.0f}/s sent {} acked {} delivered {}/{} p99 {:.2f} ms errors {}",
      scenario, seconds, s.rate, s.sent, s.acked, s.delivered, s.expected,
      ms(s.latency.percentile(99)), s.error_count());
}

void progress(const std::string& line) {
  if (!on_terminal()) return;
  std::fprintf(stderr, "\r\033[K%s", line.c_str());
  std::fflush(stderr);
}

void progress_done() {
  if (!on_terminal()) return;
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
}

}  // namespace parley::bench
