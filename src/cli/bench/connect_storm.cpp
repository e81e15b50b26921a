// connect-storm: new connections at --rate per second (open loop) for --duration, while
// --background connected clients keep sending in their rooms and measure their latency.
// Plain: each connection upgrades, waits for its welcome, and (unless --hold) drops at once.
// --reconnect: the rate x duration connections are first opened and held, then dropped all at
// once (a restart or a network cut, as the clients see it), then reopened on the timetable and
// held; a failed attempt is tried again the way parley's clients do (retry_schedule.h).
// Reported: connects/s, time from the scheduled moment to the welcome (retries included), the
// failed attempts by reason (HTTP status, 503 with Retry-After, timeout...), the drain (from the
// timetable's start to the last connection established or given up), and the background's
// send-to-delivery latency before and during the storm.
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include "cli/bench/background.h"
#include "cli/bench/fleet.h"
#include "cli/bench/frame.h"
#include "cli/bench/open_loop.h"
#include "cli/bench/report.h"
#include "cli/bench/retry_schedule.h"
#include "cli/bench/scenarios.h"
#include "cli/bench/users.h"
#include "cli/bench/ws_client.h"

namespace parley::bench {

namespace {

struct Storm {
  PhaseStats stats;
  FrameParser parser;
  size_t in_flight = 0;
  size_t welcomed_before = 0;  // --reconnect: the connections opened before the drop
  uint64_t attempts = 0;
  uint64_t gave_up = 0;
  SteadyClock::time_point last_done{};
  std::vector<std::shared_ptr<WsClient>> held;
};

std::chrono::milliseconds ms_of(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
}

// After the upgrade: the welcome, or why it did not come (the attempt's outcome).
awaitable<ConnectOutcome> await_welcome(Storm& storm, const std::shared_ptr<WsClient>& conn,
                                        std::chrono::milliseconds timeout) {
  // Shared with the handlers: a held connection outlives this coroutine.
  struct State {
    bool welcomed = false, closed = false;
    std::string why;
  };
  auto st = std::make_shared<State>();
  conn->start_reading(
      [&storm, st](std::string_view raw) {
        Frame f;
        if (!st->welcomed && storm.parser.parse(raw, f) && f.type == "welcome") st->welcomed = true;
      },
      [st](int, const std::string& w) {
        st->closed = true;
        st->why = w;
      });
  co_await wait_until([&] { return st->welcomed || st->closed; }, SteadyClock::now() + timeout);
  ConnectOutcome out;
  out.ok = st->welcomed;
  out.reason = st->welcomed ? "ok"
               : st->closed ? (st->why.empty() ? "closed" : st->why)
                            : "no_welcome";
  co_return out;
}

awaitable<void> one_connect(Storm& storm, const BenchOptions& opts, const Target& target,
                            std::string path, SteadyClock::time_point due) {
  auto ex = co_await net::this_coro::executor;
  auto timeout = ms_of(opts.connect_timeout_s);
  RetrySchedule retry(RetryOn::transient);
  auto give_up_at = due + ms_of(opts.retry_for_s);
  for (;;) {
    ++storm.attempts;
    auto conn = std::make_shared<WsClient>(ex);
    auto outcome = co_await conn->connect(target, path, timeout);
    if (outcome.ok) outcome = co_await await_welcome(storm, conn, timeout);
    if (outcome.ok) {
      ++storm.stats.acked;
      auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(SteadyClock::now() - due);
      storm.stats.latency.record(static_cast<uint64_t>(std::max<int64_t>(0, ns.count())));
      if (opts.hold || opts.reconnect) {
        storm.held.push_back(conn);
      } else {
        conn->abort();
      }
      break;
    }
    conn->abort();
    storm.stats.error(outcome.retry_after ? outcome.reason + "_retry_after" : outcome.reason);
    // Only a reconnecting client comes back; the plain storm counts each first attempt.
    auto wait = opts.reconnect ? retry.after(outcome, jitter_draw()) : std::nullopt;
    if (!wait || SteadyClock::now() + *wait > give_up_at) {
      if (opts.reconnect) ++storm.gave_up;
      break;
    }
    co_await sleep_for(*wait);
  }
  storm.last_done = std::max(storm.last_done, SteadyClock::now());
  --storm.in_flight;
}

// Held connections each take a descriptor in the generator and one in the server: say so
// before the storm instead of measuring EMFILE.
bool enough_descriptors(size_t needed, std::string& error) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur >= needed) return true;
  error = "the storm holds " + std::to_string(needed) + " descriptors, the limit is " +
          std::to_string(lim.rlim_cur) + " (ulimit -n; the server needs as many)";
  return false;
}

// Opens the storm's connections and waits for their welcomes (--reconnect, before the drop).
awaitable<bool> open_all(Fleet& fleet, Storm& storm, size_t n, const BenchOptions& opts,
                         std::string& error) {
  // The handler outlives this coroutine (until the drop): it touches only `storm`.
  bool ok = co_await fleet.open(
      n, ms_of(opts.connect_timeout_s),
      [&storm](size_t, std::string_view raw) {
        Frame f;
        if (storm.parser.parse(raw, f) && f.type == "welcome") ++storm.welcomed_before;
      },
      [](size_t, int, const std::string&) {}, error);
  if (ok && !co_await wait_until([&] { return storm.welcomed_before == n; },
                                 SteadyClock::now() + std::chrono::seconds(60))) {
    error =
        std::to_string(n - storm.welcomed_before) + " of the storm's connections got no welcome";
    ok = false;
  }
  co_return ok;
}

boost::json::object background_json(const PhaseStats& s, const Background& bg) {
  auto o = phase_json(s);
  o["clients"] = bg.connections();
  o["rooms"] = bg.rooms();
  return o;
}

}  // namespace

awaitable<ScenarioResult> run_connect_storm(const BenchOptions& opts, std::vector<Target> targets) {
  ScenarioResult result;
  auto total = static_cast<int>(opts.rate * opts.duration_s);
  const bool held = opts.hold || opts.reconnect;
  std::unique_ptr<Background> bg;
  if (opts.background > 0) bg = std::make_unique<Background>(opts, targets, opts.background);
  size_t bg_conns = bg ? bg->connections() : 0;
  if (held && !enough_descriptors(static_cast<size_t>(total) + bg_conns + 64, result.error)) {
    result.exit_code = 2;
    co_return result;
  }
  // Held connections need one user per --conns-per-user; dropped ones only a few users.
  int user_count = held ? std::max(1, (total + opts.conns_per_user - 1) / opts.conns_per_user)
                        : std::clamp(total / opts.conns_per_user, 1, 20);
  Users users = co_await register_users(opts, targets.front(), user_count, result.error);
  if (result.error.empty() && bg) co_await bg->setup(result.error);
  Storm storm;
  Fleet fleet(targets, users);
  if (result.error.empty() && opts.reconnect) {
    spdlog::info("connect-storm: opening the {} connections to drop", total);
    co_await open_all(fleet, storm, static_cast<size_t>(total), opts, result.error);
  }
  if (!result.error.empty()) {
    co_await fleet.close();
    if (bg) co_await bg->close();
    result.exit_code = 2;
    co_return result;
  }
  auto ex = co_await net::this_coro::executor;
  if (bg && opts.warmup_s > 0) {
    auto before = co_await bg->measure(opts.warmup_s);
    spdlog::info("background before the storm ({} clients): {}", bg_conns, phase_line(before));
    result.json["background_before"] = background_json(before, *bg);
  }
  if (bg) bg->start();
  if (opts.reconnect) {
    // The drop: every connection at once, as the server sees a restart's or a cut's clients go.
    fleet.reset_all();
    co_await fleet.close();
  }
  storm.stats.rate = opts.rate;
  storm.stats.duration_s = opts.duration_s;
  OpenLoopSchedule schedule(opts.rate, SteadyClock::now() + std::chrono::milliseconds(10),
                            std::chrono::duration_cast<SteadyClock::duration>(
                                std::chrono::duration<double>(opts.duration_s)));
  net::steady_timer timer(ex);
  double cpu_at_start = process_cpu_seconds();
  // A plain storm bigger than the generator's file descriptors would measure the generator
  // (held ones were checked against the limit; a reconnecting client waiting holds none).
  constexpr size_t kMaxInFlight = 8000;
  uint64_t k = 0;
  auto last_tick = SteadyClock::now();
  while (k < schedule.total()) {
    auto now = SteadyClock::now();
    for (uint64_t due = schedule.due_by(now); k < due; ++k) {
      ++storm.stats.sent;
      storm.stats.max_send_lag_ns = std::max<uint64_t>(
          storm.stats.max_send_lag_ns,
          static_cast<uint64_t>(std::chrono::nanoseconds(now - schedule.due(k)).count()));
      if (!held && storm.in_flight >= kMaxInFlight) {
        storm.stats.error("generator_in_flight_cap");
        continue;
      }
      ++storm.in_flight;
      size_t i = static_cast<size_t>(k);
      // Connection i of the storm is connection i of the dropped fleet: same user, same server.
      net::co_spawn(ex,
                    one_connect(storm, opts, fleet.target_of(i), fleet.path_of(i), schedule.due(k)),
                    net::detached);
    }
    if (now - last_tick > std::chrono::milliseconds(500)) {
      last_tick = now;
      progress(fmt_progress(opts.scenario,
                            std::chrono::duration<double>(now - schedule.start()).count(),
                            storm.stats));
    }
    if (k < schedule.total()) {
      timer.expires_at(schedule.due(k));
      co_await timer.async_wait(use_tuple);
    }
  }
  auto give_up_s = opts.reconnect ? opts.retry_for_s : 0.0;
  co_await wait_until([&] { return storm.in_flight == 0; },
                      SteadyClock::now() + ms_of(give_up_s + 2 * opts.connect_timeout_s + 10));
  progress_done();
  storm.stats.gen_cpu_s = process_cpu_seconds() - cpu_at_start;
  double elapsed = std::chrono::duration<double>(SteadyClock::now() - schedule.start()).count();
  double drain_s =
      std::chrono::duration<double>(std::max(storm.last_done, schedule.start()) - schedule.start())
          .count();
  PhaseStats during;
  if (bg) during = co_await bg->stop();
  for (auto& c : storm.held) c->abort();
  // Their handlers reference `storm`: wait until none can run.
  co_await wait_until(
      [&] {
        for (const auto& c : storm.held) {
          if (c->is_reading()) return false;
        }
        return true;
      },
      SteadyClock::time_point::max());
  if (bg) co_await bg->close();
  for (auto& [key, v] : phase_json(storm.stats)) result.json[key] = v;
  // The storm's CPU runs until it drained, not for the timetable's length.
  result.json["gen_cpu_pct"] = elapsed > 0 ? 100.0 * storm.stats.gen_cpu_s / elapsed : 0.0;
  result.json["connects"] = storm.stats.acked;
  result.json["connects_per_s"] = static_cast<double>(storm.stats.acked) / elapsed;
  result.json["elapsed_s"] = elapsed;
  result.json["drain_s"] = drain_s;
  result.json["attempts"] = storm.attempts;
  result.json["gave_up"] = storm.gave_up;
  uint64_t refused_503 = 0;
  for (const auto& [code, n] : storm.stats.errors) {
    if (code.starts_with("http_503")) refused_503 += n;
  }
  result.json["refused_503"] = refused_503;
  result.json["users"] = users.size();
  result.json["hold"] = held;
  result.json["reconnect"] = opts.reconnect;
  result.json.erase("delivered");
  result.json.erase("expected");
  if (bg) result.json["background"] = background_json(during, *bg);
  spdlog::info(
      "connect-storm: {} of {} connected in {:.1f} s ({:.0f}/s), drained in {:.2f} s, {} "
      "attempts, {} refused with 503, {} gave up; {}",
      storm.stats.acked, storm.stats.sent, elapsed,
      static_cast<double>(storm.stats.acked) / elapsed, drain_s, storm.attempts, refused_503,
      storm.gave_up, phase_line(storm.stats));
  if (bg)
    spdlog::info("background during the storm ({} clients): {}", bg_conns, phase_line(during));
  if (storm.in_flight) {
    // Connections still stuck after the wait reference `storm`: never return under them.
    spdlog::error("connect-storm: {} connects never finished", storm.in_flight);
    result.exit_code = 2;
  }
  co_return result;
}

}  // namespace parley::bench
