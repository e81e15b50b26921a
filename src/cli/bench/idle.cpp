// idle: N connections that only hold on. The server's resident memory is read before and after
// they connect (when the server is local), which gives its memory per idle connection.
#include <spdlog/spdlog.h>

#include <map>

#include "cli/bench/fleet.h"
#include "cli/bench/frame.h"
#include "cli/bench/scenarios.h"
#include "cli/bench/server_memory.h"
#include "cli/bench/users.h"

namespace parley::bench {

awaitable<ScenarioResult> run_idle(const BenchOptions& opts, std::vector<Target> targets) {
  ScenarioResult result;
  auto n = static_cast<size_t>(opts.connections);
  int user_count = std::max(1, (opts.connections + opts.conns_per_user - 1) / opts.conns_per_user);
  Users users = co_await register_users(opts, targets.front(), user_count, result.error);
  if (!result.error.empty()) {
    result.exit_code = 2;
    co_return result;
  }
  std::optional<int> pid;
  if (opts.server_pid > 0) {
    pid = opts.server_pid;
  } else if (targets.size() == 1) {
    pid = find_listener_pid(targets.front().port);
  }
  if (!pid) spdlog::warn("idle: server not found on this machine (--server-pid): no memory figure");
  // Let the registrations' work settle before the first reading.
  co_await sleep_for(std::chrono::milliseconds(500));
  std::optional<uint64_t> before = pid ? rss_bytes(*pid) : std::nullopt;

  Fleet fleet(targets, users);
  FrameParser parser;
  size_t welcomed = 0;
  std::map<std::string, uint64_t> closes;  // connections the server closed during the hold
  bool ending = false;
  auto start = SteadyClock::now();
  auto timeout = std::chrono::milliseconds(static_cast<int64_t>(opts.connect_timeout_s * 1000));
  bool ok = co_await fleet.open(
      n, timeout,
      [&](size_t, std::string_view raw) {
        Frame f;
        if (parser.parse(raw, f) && f.type == "welcome") ++welcomed;
      },
      [&](size_t, int, const std::string& why) {
        if (!ending) ++closes[why.empty() ? "closed" : why];
      },
      result.error);
  if (!ok) {
    co_await fleet.close();
    result.exit_code = 2;
    co_return result;
  }
  co_await wait_until([&] { return welcomed == n; }, SteadyClock::now() + std::chrono::seconds(30));
  double connect_s = std::chrono::duration<double>(SteadyClock::now() - start).count();
  spdlog::info("idle: {} connections open and welcomed in {:.1f} s; holding {:.0f} s", welcomed,
               connect_s, opts.duration_s);
  co_await sleep_for(std::chrono::milliseconds(static_cast<int64_t>(opts.duration_s * 1000)));
  std::optional<uint64_t> after = pid ? rss_bytes(*pid) : std::nullopt;
  size_t still_open = fleet.open_count();
  ending = true;
  co_await fleet.close();

  result.json["connections"] = n;
  result.json["users"] = users.size();
  result.json["welcomed"] = welcomed;
  result.json["open_at_end"] = still_open;
  result.json["connect_s"] = connect_s;
  boost::json::object errors;
  for (const auto& [why, count] : closes) errors[why] = count;
  result.json["errors"] = std::move(errors);
  if (pid && before && after) {
    result.json["server_pid"] = *pid;
    result.json["server_rss_before_bytes"] = *before;
    result.json["server_rss_after_bytes"] = *after;
    double per = (static_cast<double>(*after) - static_cast<double>(*before)) /
                 static_cast<double>(std::max<size_t>(1, n));
    result.json["memory_per_connection_bytes"] = per;
    spdlog::info("idle: server RSS {:.1f} -> {:.1f} MiB: {:.0f} bytes per connection",
                 static_cast<double>(*before) / 1048576.0, static_cast<double>(*after) / 1048576.0,
                 per);
  } else {
    result.json["memory_per_connection_bytes"] = nullptr;
  }
  if (still_open != n) spdlog::warn("idle: {} of {} connections dropped", n - still_open, n);
  co_return result;
}

}  // namespace parley::bench
