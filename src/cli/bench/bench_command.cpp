#include "cli/bench/bench_command.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <cstdio>

#include "cli/bench/scenarios.h"
#include "cli/bench/users.h"

namespace parley::bench {

CLI::App* add_bench_command(CLI::App& app, BenchOptions& o) {
  auto* cmd = app.add_subcommand(
      "bench", "load generator: fanout | rooms | idle | connect-storm | history against --url");
  cmd->add_option("scenario", o.scenario, "fanout, rooms, idle, connect-storm or history")
      ->required()
      ->check(CLI::IsMember({"fanout", "rooms", "idle", "connect-storm", "history"}));
  cmd->add_option("--url", o.urls,
                  "server URL, repeatable or comma-separated (several: a cluster; connections "
                  "spread round-robin)")
      ->default_val(std::vector<std::string>{"http://127.0.0.1:8080"});
  cmd->add_option("--rate", o.rate,
                  "offered rate per second, open loop: messages (fanout, rooms), connects "
                  "(connect-storm), pages (history)")
      ->capture_default_str()
      ->check(CLI::Range(0.001, 1e7));
  cmd->add_option("--duration", o.duration_s, "seconds measured (per step with --step)")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 86400.0));
  cmd->add_option("--warmup", o.warmup_s, "seconds sent at --rate before measuring")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 3600.0));
  cmd->add_option("--drain", o.drain_s, "seconds deliveries may arrive after the last send")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 600.0));
  cmd->add_option("--size", o.size, "message text bytes")
      ->capture_default_str()
      ->check(CLI::Range(40, 60000));
  cmd->add_option("--members", o.members, "fanout: the room's members; rooms: members per room")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  cmd->add_option("--rooms", o.rooms, "rooms: how many rooms")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  cmd->add_option("--senders", o.senders, "fanout: how many members send")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  cmd->add_option("--connections", o.connections, "idle: connections held; history: readers")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  cmd->add_option("--conns-per-user", o.conns_per_user,
                  "connections per registered user (the server allows 256 by default)")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--user-prefix", o.user_prefix, "user and room name prefix (default: random)");
  cmd->add_option("--password", o.password, "the generated users' password")->capture_default_str();
  cmd->add_option("--connect-timeout", o.connect_timeout_s, "seconds per connect + upgrade")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 600.0));
  cmd->add_option("--server-pid", o.server_pid,
                  "idle: the server's pid, for its memory (default: found by port when local)");
  cmd->add_flag("--hold", o.hold, "connect-storm: keep connections open instead of dropping them");
  cmd->add_flag("--reconnect", o.reconnect,
                "connect-storm: open --rate x --duration connections, drop them all at once, and "
                "reopen them at --rate; refused clients retry as parley's clients do "
                "(Retry-After, back-off with full jitter)");
  cmd->add_option("--retry-for", o.retry_for_s,
                  "connect-storm --reconnect: seconds after its due time a client gives up")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 3600.0));
  cmd->add_option("--background", o.background,
                  "connect-storm: connected clients (rooms of 10, all sending) measured during "
                  "the storm; 0: none")
      ->capture_default_str()
      ->check(CLI::Range(0, 100000));
  cmd->add_option("--background-rate", o.background_rate,
                  "connect-storm: the background clients' sends per second, in total")
      ->capture_default_str()
      ->check(CLI::Range(0.001, 1e6));
  cmd->add_option("--via", o.via, "history: ws (the history op) or http (the HTTP API)")
      ->capture_default_str()
      ->check(CLI::IsMember({"ws", "http"}));
  cmd->add_option("--page-size", o.page_size, "history: messages per page")
      ->capture_default_str()
      ->check(CLI::Range(1, 200));
  cmd->add_option("--messages", o.messages, "history: messages written to the room first")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000000));
  cmd->add_flag("--step", o.step,
                "raise the rate by --step-factor each --duration until a step fails");
  cmd->add_option("--step-factor", o.step_factor)
      ->capture_default_str()
      ->check(CLI::Range(1.01, 100.0));
  cmd->add_option("--p99-bound-ms", o.p99_bound_ms, "a step fails when p99 exceeds this")
      ->capture_default_str();
  cmd->add_option("--max-steps", o.max_steps)->capture_default_str()->check(CLI::Range(1, 100));
  cmd->add_flag("--json", o.json, "write one JSON line with the results on stdout");
  return cmd;
}

namespace {

// 10,000 idle connections need 10,000 descriptors: take the hard limit.
void raise_fd_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
  }
}

awaitable<ScenarioResult> dispatch(const BenchOptions& o, std::vector<Target> targets) {
  if (o.scenario == "fanout") co_return co_await run_fanout(o, std::move(targets));
  if (o.scenario == "rooms") co_return co_await run_rooms(o, std::move(targets));
  if (o.scenario == "idle") co_return co_await run_idle(o, std::move(targets));
  if (o.scenario == "connect-storm") co_return co_await run_connect_storm(o, std::move(targets));
  co_return co_await run_history(o, std::move(targets));
}

}  // namespace

int run_bench(BenchOptions opts) {
  if (opts.user_prefix.empty()) opts.user_prefix = fresh_prefix();
  if (opts.step && opts.scenario != "fanout" && opts.scenario != "rooms") {
    spdlog::error("--step applies to fanout and rooms");
    return 2;
  }
  std::vector<Target> targets;
  try {
    targets = parse_targets(opts.urls);
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 2;
  }
  raise_fd_limit();
  net::io_context io(1);
  ScenarioResult result;
  bool done = false;
  net::co_spawn(io, dispatch(opts, targets), [&](std::exception_ptr e, ScenarioResult r) {
    done = true;
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        r.error = ex.what();
        r.exit_code = 2;
      }
    }
    result = std::move(r);
  });
  io.run();
  if (!done) {
    spdlog::error("bench: the scenario did not finish");
    return 2;
  }
  if (!result.error.empty()) spdlog::error("{}: {}", opts.scenario, result.error);
  if (opts.json) {
    boost::json::object line;
    line["scenario"] = opts.scenario;
    boost::json::array urls;
    for (const auto& t : targets) urls.emplace_back(t.url());
    line["urls"] = std::move(urls);
    line["user_prefix"] = opts.user_prefix;
    for (auto& [k, v] : result.json) line[k] = v;
    if (!result.error.empty()) line["error"] = result.error;
    line["exit_code"] = result.exit_code;
    std::printf("%s\n", boost::json::serialize(line).c_str());
    std::fflush(stdout);
  }
  return result.exit_code;
}

}  // namespace parley::bench
