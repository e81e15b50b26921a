#include "cli/bench/background.h"

#include <boost/asio/post.hpp>

namespace parley::bench {

namespace {
BenchOptions background_options(const BenchOptions& opts) {
  BenchOptions o = opts;
  o.user_prefix += "g";
  // A user per room at most: a server with a low --max-connections-per-user still takes them.
  o.conns_per_user = std::min(o.conns_per_user, Background::kMembersPerRoom);
  o.scenario = opts.scenario + " background";
  return o;
}
}  // namespace

Background::Background(const BenchOptions& opts, std::vector<Target> targets, int clients)
    : opts_(background_options(opts)),
      rooms_((clients + kMembersPerRoom - 1) / kMembersPerRoom),
      members_(std::min(clients, kMembersPerRoom)),
      work_(net::make_work_guard(io_)),
      load_(std::make_unique<RoomLoad>(opts_, std::move(targets), rooms_, members_, members_)) {
  load_->set_progress(false);  // the storm's progress line owns the terminal
  thread_ = std::thread([this] { io_.run(); });
}

Background::~Background() {
  work_.reset();
  io_.stop();
  if (thread_.joinable()) thread_.join();
}

template <class T>
awaitable<T> Background::on_thread(std::function<awaitable<T>()> work) {
  // The result is written on the background thread before `done` is released, and read here
  // after it is acquired.
  auto done = std::make_shared<std::atomic<bool>>(false);
  auto result = std::make_shared<T>();
  net::co_spawn(
      io_,
      [work, done, result]() -> awaitable<void> {
        *result = co_await work();
        done->store(true, std::memory_order_release);
      },
      net::detached);
  // [&], not a copy of `done`: GCC 12 destroys a co_await argument's temporaries twice, which
  // only trivially destructible captures survive.
  co_await wait_until([&] { return done->load(std::memory_order_acquire); },
                      SteadyClock::time_point::max());
  co_return std::move(*result);
}

awaitable<bool> Background::setup(std::string& error) {
  std::string err;
  bool ok = co_await on_thread<bool>([this, &err]() { return load_->setup(err); });
  if (!ok) error = "background clients: " + err;
  co_return ok;
}

awaitable<PhaseStats> Background::measure(double seconds) {
  co_return co_await on_thread<PhaseStats>(
      [this, seconds]() { return load_->run_phase(opts_.background_rate, seconds); });
}

void Background::start() {
  open_phase_done_ = std::make_shared<std::atomic<bool>>(false);
  open_phase_ = std::make_shared<PhaseStats>();
  net::co_spawn(
      io_,
      [this, done = open_phase_done_, stats = open_phase_]() -> awaitable<void> {
        // A day: in effect until stop().
        *stats = co_await load_->run_phase(opts_.background_rate, 86400);
        done->store(true, std::memory_order_release);
      },
      net::detached);
}

awaitable<PhaseStats> Background::stop() {
  if (!open_phase_) co_return PhaseStats{};
  net::post(io_, [this] { load_->stop_phase(); });
  auto done = open_phase_done_;
  co_await wait_until([&] { return done->load(std::memory_order_acquire); },
                      SteadyClock::time_point::max());
  auto stats = std::move(*open_phase_);
  open_phase_.reset();
  co_return stats;
}

awaitable<void> Background::close() {
  co_await on_thread<bool>([this]() -> awaitable<bool> {
    co_await load_->close();
    co_return true;
  });
  work_.reset();
}

}  // namespace parley::bench
