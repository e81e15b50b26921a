// connect-storm: new connections at --rate per second (open loop) for --duration. Each one
// upgrades, waits for its welcome frame, and (unless --hold) drops at once, as a client fleet
// reconnecting after an outage does. Reported: connects/s achieved, time to welcome from the
// scheduled moment, and what failed by reason (HTTP status, 503 with Retry-After, timeout...).
#include <spdlog/spdlog.h>

#include "cli/bench/frame.h"
#include "cli/bench/open_loop.h"
#include "cli/bench/report.h"
#include "cli/bench/scenarios.h"
#include "cli/bench/users.h"
#include "cli/bench/ws_client.h"

namespace parley::bench {

namespace {

struct Storm {
  PhaseStats stats;
  FrameParser parser;
  size_t in_flight = 0;
  std::vector<std::shared_ptr<WsClient>> held;
};

awaitable<void> one_connect(Storm& storm, const BenchOptions& opts, const Target& target,
                            std::string path, SteadyClock::time_point due) {
  auto ex = co_await net::this_coro::executor;
  auto conn = std::make_shared<WsClient>(ex);
  auto timeout = std::chrono::milliseconds(static_cast<int64_t>(opts.connect_timeout_s * 1000));
  auto outcome = co_await conn->connect(target, path, timeout);
  if (!outcome.ok) {
    storm.stats.error(outcome.retry_after ? outcome.reason + "_retry_after" : outcome.reason);
  } else {
    // Shared with the handlers: a held connection outlives this coroutine.
    struct State {
      bool welcomed = false, closed = false;
      std::string why;
    };
    auto st = std::make_shared<State>();
    conn->start_reading(
        [&storm, st](std::string_view raw) {
          Frame f;
          if (storm.parser.parse(raw, f) && f.type == "welcome") st->welcomed = true;
        },
        [st](int, const std::string& w) {
          st->closed = true;
          st->why = w;
        });
    co_await wait_until([&] { return st->welcomed || st->closed; }, SteadyClock::now() + timeout);
    if (st->welcomed) {
      ++storm.stats.acked;
      auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(SteadyClock::now() - due);
      storm.stats.latency.record(static_cast<uint64_t>(std::max<int64_t>(0, ns.count())));
    } else {
      storm.stats.error(st->closed ? (st->why.empty() ? "closed" : st->why) : "no_welcome");
    }
    if (opts.hold && st->welcomed) {
      storm.held.push_back(conn);
    } else {
      conn->abort();
    }
  }
  --storm.in_flight;
}

}  // namespace

awaitable<ScenarioResult> run_connect_storm(const BenchOptions& opts, std::vector<Target> targets) {
  ScenarioResult result;
  auto total = static_cast<int>(opts.rate * opts.duration_s);
  // Held connections need one user per --conns-per-user; dropped ones only a few users.
  int user_count = opts.hold ? std::max(1, (total + opts.conns_per_user - 1) / opts.conns_per_user)
                             : std::clamp(total / opts.conns_per_user, 1, 20);
  Users users = co_await register_users(opts, targets.front(), user_count, result.error);
  if (!result.error.empty()) {
    result.exit_code = 2;
    co_return result;
  }
  auto ex = co_await net::this_coro::executor;
  Storm storm;
  storm.stats.rate = opts.rate;
  storm.stats.duration_s = opts.duration_s;
  OpenLoopSchedule schedule(opts.rate, SteadyClock::now() + std::chrono::milliseconds(10),
                            std::chrono::duration_cast<SteadyClock::duration>(
                                std::chrono::duration<double>(opts.duration_s)));
  net::steady_timer timer(ex);
  double cpu_at_start = process_cpu_seconds();
  // A storm bigger than the generator's file descriptors would measure the generator.
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
      if (storm.in_flight >= kMaxInFlight) {
        storm.stats.error("generator_in_flight_cap");
        continue;
      }
      ++storm.in_flight;
      size_t i = static_cast<size_t>(k);
      net::co_spawn(ex,
                    one_connect(storm, opts, targets[i % targets.size()],
                                "/ws?token=" + users.tokens[i % users.size()], schedule.due(k)),
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
  co_await wait_until(
      [&] { return storm.in_flight == 0; },
      SteadyClock::now() +
          std::chrono::seconds(static_cast<int64_t>(2 * opts.connect_timeout_s) + 10));
  progress_done();
  storm.stats.gen_cpu_s = process_cpu_seconds() - cpu_at_start;
  double elapsed = std::chrono::duration<double>(SteadyClock::now() - schedule.start()).count();
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
  result.json = phase_json(storm.stats);
  result.json["connects"] = storm.stats.acked;
  result.json["connects_per_s"] = static_cast<double>(storm.stats.acked) / elapsed;
  result.json["elapsed_s"] = elapsed;
  result.json["users"] = users.size();
  result.json["hold"] = opts.hold;
  result.json.erase("delivered");
  result.json.erase("expected");
  spdlog::info("connect-storm: {} of {} connected in {:.1f} s ({:.0f}/s); {}", storm.stats.acked,
               storm.stats.sent, elapsed, static_cast<double>(storm.stats.acked) / elapsed,
               phase_line(storm.stats));
  if (storm.in_flight) {
    // Connections still stuck after the wait reference `storm`: never return under them.
    spdlog::error("connect-storm: {} connects never finished", storm.in_flight);
    result.exit_code = 2;
  }
  co_return result;
}

}  // namespace parley::bench
