#pragma once
// What the gateway knows of one connected client. Owned by its worker: touched only on the
// worker thread the connection lives on, so none of it is locked.
#include <atomic>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "domain/token_bucket.h"
#include "gateway/frame.h"

namespace parley {

struct Command;

// One room joined by one connection. While a join replays history the live frames of the room
// are held back; once the replay is done they are released, those already replayed dropped.
struct RoomSubscription {
  bool live = false;
  bool counted_in_presence = false;
  int64_t last_seq = 0;                         // newest seq this connection was sent
  uint64_t generation = 0;                      // which join is current (stale replies ignored)
  std::vector<std::pair<int64_t, Frame>> held;  // (seq, frame); seq 0 for events
  size_t held_bytes = 0;
};

struct Client {
  uint64_t id = 0;
  int worker = 0;
  std::string user;
  std::string session;
  int64_t opened_at_ms = 0;  // wall clock
  std::weak_ptr<FrameSink> sink;
  std::atomic<bool> open{true};  // read by other threads routing results
  // Set (under the session registry's lock) when a newer connection took the session over:
  // from then on results go to the session's new connection, not here.
  std::atomic<bool> taken_over{false};
  // Set by the transport the moment it starts closing (before on_close runs): results that
  // complete from then on go to the session, not into a socket that sends nothing more.
  std::atomic<bool> closing{false};
  std::unordered_map<std::string, RoomSubscription> rooms;
  // Commands that change rooms (create_room, invite, dm) are barriers: later commands of the
  // connection wait until they are answered, so "create then join" works even pipelined.
  bool barrier = false;
  size_t inflight = 0;            // commands not answered yet
  size_t inflight_bytes = 0;      // their frames' bytes
  size_t heavy_inflight = 0;      // reads among them (history, join): each may bring a page back
  TokenBucket commands{1, 1, 0};  // set by the gateway from the limits
  // Commands that may not start yet (behind a barrier, or over the reads cap), in arrival order.
  // Lists, not deques: an empty std::deque allocates 576 bytes, on every idle connection, and
  // these are rarely used.
  std::list<std::shared_ptr<Command>> waiting;
  bool draining = false;  // admission is starting waiting commands (no re-entry)
  // Live frames held back by all of this connection's joins, bounded like its send queue.
  size_t held_bytes = 0;
  // One replay at a time per connection, so one connection holds at most one page of history;
  // the joins after it wait here (their live frames held) and start in order.
  bool replaying = false;
  std::list<std::function<void()>> queued_replays;

  void send(const Frame& frame) const {
    if (!open) return;
    if (auto s = sink.lock()) s->send(frame);
  }
  void send_result(const Frame& frame) const {
    if (!open) return;
    if (auto s = sink.lock()) s->send_result(frame);
  }
  void close(uint16_t code, std::string reason) const {
    if (auto s = sink.lock()) s->close(code, std::move(reason));
  }
};

}  // namespace parley
