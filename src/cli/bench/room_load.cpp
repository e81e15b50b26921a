#include "cli/bench/room_load.h"

#include <boost/json.hpp>
#include <charconv>

#include "cli/bench/open_loop.h"

namespace parley::bench {

namespace {
uint64_t steady_ns(SteadyClock::time_point t) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
}
}  // namespace

RoomLoad::RoomLoad(const BenchOptions& opts, std::vector<Target> targets, int rooms, int members,
                   int senders_per_room)
    : opts_(opts),
      targets_(std::move(targets)),
      rooms_(rooms),
      members_(members),
      senders_per_room_(std::min(senders_per_room, members)) {
  for (int pos = 0; pos < senders_per_room_; ++pos) {
    for (int room = 0; room < rooms_; ++room) {
      senders_.push_back(static_cast<size_t>(room) * members_ + pos);
    }
  }
}

std::string RoomLoad::room_name(int room) const {
  return opts_.user_prefix + "-r" + std::to_string(room);
}

awaitable<bool> RoomLoad::setup(std::string& error) {
  size_t n = connections();
  int user_count = static_cast<int>(std::max<size_t>(
      1, (n + static_cast<size_t>(opts_.conns_per_user) - 1) / opts_.conns_per_user));
  users_ = co_await register_users(opts_, targets_.front(), user_count, error);
  if (!error.empty()) co_return false;
  fleet_ = std::make_unique<Fleet>(targets_, users_);
  auto timeout = std::chrono::milliseconds(static_cast<int64_t>(opts_.connect_timeout_s * 1000));
  bool ok = co_await fleet_->open(
      n, timeout, [this](size_t c, std::string_view f) { on_text(c, f); },
      [this](size_t c, int code, const std::string& why) { on_close(c, code, why); }, error);
  if (!ok) co_return false;
  auto deadline = SteadyClock::now() + std::chrono::seconds(60);
  co_await wait_until([&] { return welcomed_ == n; }, deadline);
  // The first member of each room creates it; then everyone joins.
  for (int room = 0; room < rooms_; ++room) {
    boost::json::object create{{"type", "create_room"}, {"id", "c"}, {"room", room_name(room)}};
    fleet_->at(static_cast<size_t>(room) * members_).send(boost::json::serialize(create));
  }
  if (!co_await wait_until([&] { return created_ == static_cast<size_t>(rooms_); }, deadline)) {
    error = setup_error_.empty() ? "timed out creating rooms" : setup_error_;
    co_return false;
  }
  for (size_t i = 0; i < n; ++i) {
    boost::json::object join{
        {"type", "join"}, {"id", "j"}, {"room", room_name(static_cast<int>(i / members_))}};
    fleet_->at(i).send(boost::json::serialize(join));
  }
  if (!co_await wait_until([&] { return joined_ == n || !setup_error_.empty(); }, deadline) ||
      !setup_error_.empty()) {
    error = setup_error_.empty() ? "timed out joining rooms" : setup_error_;
    co_return false;
  }
  // Joins announce members to each other (member.joined): let that traffic pass before
  // measuring, or the first phase would queue behind it. Quiet = no frame for 250 ms.
  auto settle_deadline = SteadyClock::now() + std::chrono::seconds(30);
  for (uint64_t seen = frames_ + 1; seen != frames_ && SteadyClock::now() < settle_deadline;) {
    seen = frames_;
    co_await sleep_for(std::chrono::milliseconds(250));
  }
  co_return true;
}

std::string RoomLoad::send_frame(int room, uint64_t due_ns) {
  // The text: "<phase> <due ns> xxxx...", padded to --size bytes.
  std::string text = std::to_string(phase_) + " " + std::to_string(due_ns) + " ";
  if (text.size() < opts_.size) text.append(opts_.size - text.size(), 'x');
  std::string frame = R"({"type":"send","id":"s)" + std::to_string(phase_) + R"(","room":")" +
                      room_name(room) + R"(","text":")" + text + "\"}";
  return frame;
}

awaitable<PhaseStats> RoomLoad::run_phase(double rate, double duration_s) {
  phase_ = ++phases_run_;
  answered_ = 0;
  stats_ = PhaseStats{};
  stats_.rate = rate;
  stats_.duration_s = duration_s;
  double cpu_at_start = process_cpu_seconds();
  auto ex = co_await net::this_coro::executor;
  net::steady_timer timer(ex);
  OpenLoopSchedule schedule(
      rate, SteadyClock::now() + std::chrono::milliseconds(10),
      std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(duration_s)));
  auto last_tick = SteadyClock::now();
  uint64_t k = 0;
  stop_ = false;
  while (k < schedule.total() && !stop_) {
    auto now = SteadyClock::now();
    uint64_t due = schedule.due_by(now);
    for (; k < due; ++k) {
      auto when = schedule.due(k);
      stats_.max_send_lag_ns =
          std::max<uint64_t>(stats_.max_send_lag_ns,
                             static_cast<uint64_t>(std::chrono::nanoseconds(now - when).count()));
      size_t conn = senders_[k % senders_.size()];
      fleet_->at(conn).send(send_frame(static_cast<int>(conn / members_), steady_ns(when)));
      ++stats_.sent;
      stats_.expected += static_cast<uint64_t>(members_);
    }
    if (progress_ && now - last_tick > std::chrono::milliseconds(500)) {  // the progress line
      last_tick = now;
      progress(fmt_progress(opts_.scenario,
                            std::chrono::duration<double>(now - schedule.start()).count(), stats_));
    }
    if (k < schedule.total()) {
      timer.expires_at(schedule.due(k));
      co_await timer.async_wait(use_tuple);
    }
  }
  // Stopped early: the drain counts from the last send, not from the timetable's end.
  auto sent_until = stop_ ? SteadyClock::now() : schedule.end();
  auto drain_until =
      sent_until + std::chrono::milliseconds(static_cast<int64_t>(opts_.drain_s * 1000));
  co_await wait_until(
      [&] { return stats_.delivered >= stats_.expected && answered_ >= stats_.sent; }, drain_until);
  phase_ = 0;
  if (stop_)
    stats_.duration_s = std::chrono::duration<double>(sent_until - schedule.start()).count();
  // Over the timetable and the drain; reported against the timetable's length.
  stats_.gen_cpu_s = process_cpu_seconds() - cpu_at_start;
  if (progress_) progress_done();
  co_return stats_;
}

void RoomLoad::on_text(size_t conn, std::string_view raw) {
  auto now = SteadyClock::now();
  ++frames_;
  Frame f;
  if (!parser_.parse(raw, f)) {
    if (phase_) stats_.error("unparsable_frame");
    return;
  }
  if (f.type == "message") {
    // "<phase> <due ns> ..."
    uint64_t phase = 0, due = 0;
    const char* p = f.text.data();
    const char* end = p + f.text.size();
    auto r1 = std::from_chars(p, end, phase);
    if (r1.ec != std::errc{} || phase != phase_ || phase == 0) return;
    auto r2 = std::from_chars(r1.ptr + 1, end, due);
    if (r2.ec != std::errc{}) return;
    ++stats_.delivered;
    uint64_t now_ns = steady_ns(now);
    stats_.latency.record(now_ns > due ? now_ns - due : 0);
  } else if (f.type == "result") {
    if (!f.id.empty() && f.id[0] == 's') {
      uint64_t phase = 0;
      std::from_chars(f.id.data() + 1, f.id.data() + f.id.size(), phase);
      if (phase != phase_ || phase == 0) return;
      ++answered_;
      if (f.ok) {
        ++stats_.acked;
      } else {
        stats_.error(f.error_code.empty() ? "unknown" : f.error_code);
      }
    } else if (f.id == "c") {
      if (f.ok || f.error_code == "conflict") {
        ++created_;
      } else {
        setup_error_ = "create_room refused: " + std::string(raw);
      }
    } else if (f.id == "j") {
      if (f.ok) {
        ++joined_;
      } else {
        setup_error_ = "join refused: " + std::string(raw);
      }
    }
  } else if (f.type == "welcome") {
    ++welcomed_;
  }
  (void)conn;
}

void RoomLoad::on_close(size_t conn, int code, const std::string& why) {
  (void)conn;
  (void)code;
  if (!why.empty() && phase_) stats_.error(why);
  if (!why.empty() && !phase_ && setup_error_.empty() && joined_ < connections()) {
    setup_error_ = "connection " + std::to_string(conn) + " closed: " + why;
  }
}

}  // namespace parley::bench
