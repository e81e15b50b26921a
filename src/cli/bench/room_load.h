#pragma once
// The engine of the fanout and rooms scenarios: R rooms of M members each, S members of each
// room sending. Sends follow an open-loop timetable spread round-robin over the senders; each
// carries its phase and scheduled time in its text, so the receiving side measures
// send-to-delivery latency from when the send was due, and late frames of an earlier phase are
// never counted in a later one. Single-threaded: everything runs on one io_context.
#include <memory>
#include <string>

#include "cli/bench/bench_options.h"
#include "cli/bench/fleet.h"
#include "cli/bench/frame.h"
#include "cli/bench/report.h"

namespace parley::bench {

class RoomLoad {
 public:
  RoomLoad(const BenchOptions& opts, std::vector<Target> targets, int rooms, int members,
           int senders_per_room);

  /// Registers the users, opens the connections, creates the rooms and joins every member.
  awaitable<bool> setup(std::string& error);
  /// One measured phase at @p rate messages/s for @p duration_s, then the drain.
  awaitable<PhaseStats> run_phase(double rate, double duration_s);
  /// Ends the running phase's timetable at its next send (its drain still runs): a phase that
  /// lasts as long as something else does (connect-storm's background clients).
  void stop_phase() { stop_ = true; }
  /// Whether run_phase draws the live progress line (off when another one owns the terminal).
  void set_progress(bool on) { progress_ = on; }
  /// Drops the connections; waits until none can call back into this object.
  awaitable<void> close() {
    if (fleet_) co_await fleet_->close();
  }

  size_t connections() const { return static_cast<size_t>(rooms_) * members_; }
  size_t users() const { return users_.size(); }

 private:
  void on_text(size_t conn, std::string_view raw);
  void on_close(size_t conn, int code, const std::string& why);
  std::string room_name(int room) const;
  std::string send_frame(int room, uint64_t due_ns);

  const BenchOptions& opts_;
  std::vector<Target> targets_;
  int rooms_, members_, senders_per_room_;
  Users users_;
  std::unique_ptr<Fleet> fleet_;
  std::vector<size_t> senders_;  // connection indices, rooms interleaved
  FrameParser parser_;
  std::string padding_;

  // Set-up answers.
  size_t created_ = 0, joined_ = 0, welcomed_ = 0;
  uint64_t frames_ = 0;  // every frame received: the settle wait watches it
  std::string setup_error_;

  // The phase being measured (0: none; frames of other phases are ignored).
  uint64_t phase_ = 0;
  uint64_t phases_run_ = 0;
  uint64_t answered_ = 0;
  PhaseStats stats_;
  bool stop_ = false;
  bool progress_ = true;
};

}  // namespace parley::bench
