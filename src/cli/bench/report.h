#pragma once
// What one measured phase counted, and how it is printed: a human summary on stderr, a live
// progress line on a terminal, and the one --json line on stdout.
#include <boost/json/object.hpp>
#include <cstdint>
#include <map>
#include <string>

#include "cli/bench/histogram.h"

namespace parley::bench {

struct PhaseStats {
  double rate = 0;        // offered, per second
  double duration_s = 0;  // the timetable's length
  uint64_t sent = 0;      // commands (sends, pages, connects) issued
  uint64_t acked = 0;     // ... answered ok
  uint64_t delivered = 0;
  uint64_t expected = 0;
  uint64_t max_send_lag_ns = 0;            // how far behind its timetable the generator got
  double gen_cpu_s = 0;                    // the generator's own CPU (user + sys) during the phase
  std::map<std::string, uint64_t> errors;  // by code: error codes, http_503, timeout, close_1008
  Histogram latency;                       // ns, from the scheduled time

  void error(std::string_view code) { ++errors[std::string(code)]; }
  uint64_t error_count() const;
  double delivered_ratio() const;
  /// The --step criterion: >= 99.9 % delivered, none twice, and p99 within @p p99_bound_ms.
  bool passes(double p99_bound_ms) const;
};

/// The generator's CPU time so far (user + sys, seconds): near the wall time means the
/// generator, not the server, set the ceiling.
double process_cpu_seconds();

/// {"p50":..,"p90":..,"p99":..,"p99.9":..,"max":..,"count":..}, in ms.
boost::json::object latency_json(const Histogram& h);
/// rate, duration, sent, acked, delivered, expected, errors, latency_ms.
boost::json::object phase_json(const PhaseStats& s);
/// One human line: "sent 1000 acked 1000 delivered 100000/100000 p50 .. p99 .. max ..".
std::string phase_line(const PhaseStats& s);

/// "[fanout] 3.5 s: sent .. delivered ../.. p99 .. ms errors ..": the progress line's text.
std::string fmt_progress(const std::string& scenario, double seconds, const PhaseStats& s);

/// The live progress line, only when stderr is a terminal: rewritten in place.
void progress(const std::string& line);
void progress_done();

}  // namespace parley::bench
