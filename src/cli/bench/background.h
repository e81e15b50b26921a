#pragma once
// connect-storm's background clients: the connected users a storm must not hurt. Rooms of
// members that all send on an open-loop timetable, measured send to delivery from the scheduled
// time: the engine of the `rooms` scenario (RoomLoad), run on a thread and io_context of its
// own, so that the storm's connects, on the generator's main thread, do not delay the
// background's reads and show up as the server's latency.
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <memory>
#include <thread>

#include "cli/bench/bench_options.h"
#include "cli/bench/report.h"
#include "cli/bench/room_load.h"

namespace parley::bench {

class Background {
 public:
  static constexpr int kMembersPerRoom = 10;

  /// @p clients rounded up to whole rooms of kMembersPerRoom. Users and rooms take
  /// opts.user_prefix + "g", apart from the storm's own users.
  Background(const BenchOptions& opts, std::vector<Target> targets, int clients);
  ~Background();
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;

  /// Registers, connects, creates and joins; false and @p error when that fails.
  awaitable<bool> setup(std::string& error);
  /// One phase of @p seconds at opts.background_rate (before the storm: the baseline).
  awaitable<PhaseStats> measure(double seconds);
  /// A phase that runs until stop(), which returns its figures after the drain.
  void start();
  awaitable<PhaseStats> stop();
  /// Drops the connections and ends the thread.
  awaitable<void> close();

  size_t connections() const { return load_->connections(); }
  int rooms() const { return rooms_; }
  int members() const { return members_; }

 private:
  // Runs @p work on the background's thread; the caller's coroutine waits for its end.
  template <class T>
  awaitable<T> on_thread(std::function<awaitable<T>()> work);

  BenchOptions opts_;
  int rooms_, members_;
  net::io_context io_{1};
  net::executor_work_guard<net::io_context::executor_type> work_;
  std::unique_ptr<RoomLoad> load_;
  std::thread thread_;
  std::shared_ptr<std::atomic<bool>> open_phase_done_;
  std::shared_ptr<PhaseStats> open_phase_;
};

}  // namespace parley::bench
