#pragma once
// A connection's subscription to a room: the join / replay / live state machine that guarantees
// no gap and no duplicate.
//   join      subscribe first, holding live frames back, then read the head (nothing committed
//             after the read can be missed: it is held);
//   replay    send what the client missed, from its `since` to the head, paced by its send
//             queue, page by page; one replay at a time per connection, so a connection holds
//             at most one page of history however many rooms it joins;
//   go live   release the held frames with seq above the newest one sent (those the replay
//             already sent are dropped), then deliver live frames as they come.
#include <memory>
#include <optional>
#include <string>

#include "app/services.h"
#include "app/use_cases/enter_room.h"
#include "app/use_cases/join_room.h"
#include "app/use_cases/leave_room.h"
#include "gateway/client.h"
#include "gateway/command.h"
#include "gateway/fan_out.h"
#include "gateway/replies.h"
#include "runtime/worker_pool.h"

namespace parley {

/// What one live frame does to one subscription.
enum class Offer {
  sent,     // live: written to the connection
  held,     // joining: kept until the replay is done
  skipped,  // already sent by the replay
  overflow  // joining, and the held frames passed @p hold_limit bytes: close the connection
};
Offer offer(Client& client, RoomSubscription& sub, int64_t seq, const Frame& frame,
            size_t hold_limit);

/// Ends a replay at @p cursor (the newest seq sent): releases the held frames above it.
void go_live(Client& client, RoomSubscription& sub, int64_t cursor);
/// Forgets @p sub's held frames (and their bytes in the connection's count).
void drop_held(Client& client, RoomSubscription& sub);

class Subscriptions {
 public:
  Subscriptions(Services& services, WorkerPool& pool, FanOut& fan_out, Replies& replies);

  /// The join op: answers @p cmd with the head, then replays from @p since and goes live.
  void join(const CommandPtr& cmd, const std::string& room, std::optional<int64_t> since);
  /// Stops @p client's subscription to @p room (a no-op if there is none).
  void leave(Client& client, const std::string& room);
  void leave_all(Client& client);

 private:
  struct Replay;
  void joined(const CommandPtr& cmd, const std::string& room, std::optional<int64_t> since,
              uint64_t generation, bool inserted, bool was_live, int64_t old_last,
              Result<JoinRoom::Reply> r);
  // One replay at a time per connection: the others queue on the client.
  void start_replay(const std::shared_ptr<Replay>& r);
  void end_replay(const std::shared_ptr<Replay>& r);
  void read_replay_page(const std::shared_ptr<Replay>& r);
  void pump_replay(const std::shared_ptr<Replay>& r);

  Services& s_;
  WorkerPool& pool_;
  FanOut& fan_out_;
  Replies& replies_;
  JoinRoom join_;
  EnterRoom enter_;
  LeaveRoom leave_;
};

}  // namespace parley
