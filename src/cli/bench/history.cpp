// history: one room filled with --messages first, then pages of --page-size read at --rate
// pages/s (open loop) from random positions, by --connections readers, over the WebSocket
// `history` op (--via ws, pipelined) or GET /api/rooms/<room>/messages (--via http, one
// keep-alive connection per reader, one request at a time: a busy reader queues the page, and its
// latency still counts from the scheduled time).
#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <charconv>
#include <deque>
#include <random>

#include "cli/bench/fleet.h"
#include "cli/bench/frame.h"
#include "cli/bench/http_client.h"
#include "cli/bench/open_loop.h"
#include "cli/bench/report.h"
#include "cli/bench/scenarios.h"

namespace parley::bench {

namespace {

struct Reader {
  std::unique_ptr<HttpClient> http;
  std::deque<uint64_t> queue;  // pages waiting for this reader's connection
  bool busy = false;
};

struct HistoryRun {
  HistoryRun(const BenchOptions& o, std::string r) : opts(o), room(std::move(r)) {}
  const BenchOptions& opts;
  std::string room;
  FrameParser parser;
  PhaseStats stats;
  uint64_t answered = 0;
  uint64_t messages_read = 0;
  bool measuring = false;
  std::vector<SteadyClock::time_point> due;  // page k's scheduled time
  std::vector<int64_t> before;               // page k's `before`
  // Prefill answers.
  uint64_t written = 0, write_answers = 0, rate_limited = 0, created = 0, welcomed = 0;
  std::string setup_error;

  void page_done(uint64_t k, bool ok, std::string_view error, size_t messages) {
    if (!measuring || k >= due.size()) return;
    ++answered;
    if (!ok) {
      stats.error(error.empty() ? "unknown" : error);
      return;
    }
    ++stats.acked;
    messages_read += messages;
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(SteadyClock::now() - due[k]);
    stats.latency.record(static_cast<uint64_t>(std::max<int64_t>(0, ns.count())));
  }

  void on_text(std::string_view raw) {
    Frame f;
    if (!parser.parse(raw, f)) return;
    if (f.type == "welcome") {
      ++welcomed;
    } else if (f.type == "result" && !f.id.empty()) {
      if (f.id[0] == 'h') {
        uint64_t k = 0;
        std::from_chars(f.id.data() + 1, f.id.data() + f.id.size(), k);
        page_done(k, f.ok, f.error_code, f.messages);
      } else if (f.id[0] == 'w') {
        ++write_answers;
        if (f.ok) {
          ++written;
        } else if (f.error_code == "rate_limited") {
          ++rate_limited;
        } else {
          setup_error = "send refused: " + std::string(raw);
        }
      } else if (f.id == "c") {
        if (f.ok || f.error_code == "conflict") {
          ++created;
        } else {
          setup_error = "create_room refused: " + std::string(raw);
        }
      }
    }
  }
};

awaitable<void> http_reader(HistoryRun& run, Reader& reader, const std::string& token) {
  reader.busy = true;
  while (!reader.queue.empty()) {
    uint64_t k = reader.queue.front();
    reader.queue.pop_front();
    std::string target = "/api/rooms/" + run.room +
                         "/messages?before=" + std::to_string(run.before[k]) +
                         "&limit=" + std::to_string(run.opts.page_size);
    auto reply = co_await reader.http->request(beast::http::verb::get, target, {}, token);
    Frame f;
    bool parsed = reply.status == 200 && run.parser.parse(reply.body, f);
    std::string code = reply.status ? "http_" + std::to_string(reply.status) : reply.error;
    run.page_done(k, parsed, code, f.messages);
  }
  reader.busy = false;
}

}  // namespace

awaitable<ScenarioResult> run_history(const BenchOptions& opts, std::vector<Target> targets) {
  ScenarioResult result;
  auto ex = co_await net::this_coro::executor;
  auto n = static_cast<size_t>(std::max(1, opts.connections));
  int user_count =
      std::max(1, static_cast<int>((n + opts.conns_per_user - 1) / opts.conns_per_user));
  Users users = co_await register_users(opts, targets.front(), user_count, result.error);
  if (!result.error.empty()) {
    result.exit_code = 2;
    co_return result;
  }
  HistoryRun run(opts, opts.user_prefix + "-history");
  Fleet fleet(targets, users);
  auto timeout = std::chrono::milliseconds(static_cast<int64_t>(opts.connect_timeout_s * 1000));
  if (!co_await fleet.open(
          n, timeout, [&](size_t, std::string_view raw) { run.on_text(raw); },
          [&](size_t, int, const std::string& why) {
            if (!why.empty()) run.stats.error(why);
          },
          result.error)) {
    co_await fleet.close();
    result.exit_code = 2;
    co_return result;
  }
  auto deadline = SteadyClock::now() + std::chrono::seconds(120);
  co_await wait_until([&] { return run.welcomed == n; }, deadline);
  fleet.at(0).send(boost::json::serialize(
      boost::json::object{{"type", "create_room"}, {"id", "c"}, {"room", run.room}}));
  co_await wait_until([&] { return run.created == 1 || !run.setup_error.empty(); }, deadline);

  // Fill the room, in rounds that stay within the per-user send burst; rate_limited sends are
  // simply made again in the next round.
  std::string text(opts.size, 'h');
  auto target_messages = static_cast<uint64_t>(opts.messages);
  while (run.written < target_messages && run.setup_error.empty() &&
         SteadyClock::now() < deadline) {
    uint64_t round = std::min<uint64_t>(target_messages - run.written, 100 * users.size());
    uint64_t answers_wanted = run.write_answers + round;
    for (uint64_t i = 0; i < round; ++i) {
      fleet.at(i % n).send(boost::json::serialize(
          boost::json::object{{"type", "send"}, {"id", "w"}, {"room", run.room}, {"text", text}}));
    }
    co_await wait_until([&] { return run.write_answers >= answers_wanted; }, deadline);
    if (run.rate_limited) {
      run.rate_limited = 0;
      co_await sleep_for(std::chrono::milliseconds(500));
    }
  }
  if (!run.setup_error.empty() || run.written < target_messages) {
    result.error = run.setup_error.empty() ? "timed out filling the room" : run.setup_error;
    co_await fleet.close();
    result.exit_code = 2;
    co_return result;
  }
  auto head = static_cast<int64_t>(run.written);
  spdlog::info("history: room {} holds {} messages; reading pages of {} via {}", run.room, head,
               opts.page_size, opts.via);

  std::vector<Reader> readers(n);
  if (opts.via == "http") {
    for (size_t i = 0; i < n; ++i) {
      readers[i].http = std::make_unique<HttpClient>(ex, fleet.target_of(i));
    }
  }
  run.stats.rate = opts.rate;
  run.stats.duration_s = opts.duration_s;
  OpenLoopSchedule schedule(opts.rate, SteadyClock::now() + std::chrono::milliseconds(10),
                            std::chrono::duration_cast<SteadyClock::duration>(
                                std::chrono::duration<double>(opts.duration_s)));
  run.due.resize(schedule.total());
  run.before.resize(schedule.total());
  std::mt19937_64 rng(std::random_device{}());
  run.measuring = true;
  double cpu_at_start = process_cpu_seconds();
  net::steady_timer timer(ex);
  auto last_tick = SteadyClock::now();
  uint64_t k = 0;
  while (k < schedule.total()) {
    auto now = SteadyClock::now();
    for (uint64_t due = schedule.due_by(now); k < due; ++k) {
      run.due[k] = schedule.due(k);
      // A `before` in [2, head + 1]: every page holds at least one message.
      run.before[k] = 2 + static_cast<int64_t>(rng() % static_cast<uint64_t>(head));
      run.stats.max_send_lag_ns = std::max<uint64_t>(
          run.stats.max_send_lag_ns,
          static_cast<uint64_t>(std::chrono::nanoseconds(now - run.due[k]).count()));
      ++run.stats.sent;
      size_t r = k % n;
      if (opts.via == "http") {
        readers[r].queue.push_back(k);
        if (!readers[r].busy) {
          net::co_spawn(ex, http_reader(run, readers[r], users.tokens[fleet.user_of(r)]),
                        net::detached);
        }
      } else {
        fleet.at(r).send(R"({"type":"history","id":"h)" + std::to_string(k) + R"(","room":")" +
                         run.room + R"(","before":)" + std::to_string(run.before[k]) +
                         R"(,"limit":)" + std::to_string(opts.page_size) + "}");
      }
    }
    if (now - last_tick > std::chrono::milliseconds(500)) {
      last_tick = now;
      progress(fmt_progress(
          opts.scenario, std::chrono::duration<double>(now - schedule.start()).count(), run.stats));
    }
    if (k < schedule.total()) {
      timer.expires_at(schedule.due(k));
      co_await timer.async_wait(use_tuple);
    }
  }
  co_await wait_until(
      [&] { return run.answered >= run.stats.sent; },
      schedule.end() + std::chrono::milliseconds(static_cast<int64_t>(opts.drain_s * 1000)));
  // HTTP readers still busy hold references into `run` and `readers`: let them finish.
  co_await wait_until(
      [&] {
        for (const auto& r : readers) {
          if (r.busy) return false;
        }
        return true;
      },
      SteadyClock::now() + std::chrono::seconds(60));
  run.measuring = false;
  run.stats.gen_cpu_s = process_cpu_seconds() - cpu_at_start;
  progress_done();
  double elapsed = std::chrono::duration<double>(SteadyClock::now() - schedule.start()).count();
  co_await fleet.close();

  result.json = phase_json(run.stats);
  result.json.erase("delivered");
  result.json.erase("expected");
  result.json["via"] = opts.via;
  result.json["readers"] = n;
  result.json["users"] = users.size();
  result.json["room_messages"] = head;
  result.json["page_size"] = opts.page_size;
  result.json["pages"] = run.stats.acked;
  result.json["pages_per_s"] = static_cast<double>(run.stats.acked) / elapsed;
  result.json["messages_per_page"] = run.stats.acked ? static_cast<double>(run.messages_read) /
                                                           static_cast<double>(run.stats.acked)
                                                     : 0.0;
  spdlog::info("history: {} pages in {:.1f} s ({:.0f}/s); {}", run.stats.acked, elapsed,
               static_cast<double>(run.stats.acked) / elapsed, phase_line(run.stats));
  co_return result;
}

}  // namespace parley::bench
