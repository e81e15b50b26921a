#pragma once
// What the use cases are given: the driven ports, the shared in-memory state, the limits.
// main wires one instance; use cases hold a reference to it.
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>

#include "app/ports/blocking_executor.h"
#include "app/ports/clock.h"
#include "app/ports/dead_letters.h"
#include "app/ports/history_store.h"
#include "app/ports/message_log.h"
#include "app/ports/password_hasher.h"
#include "app/ports/remote_presence.h"
#include "app/ports/room_events.h"
#include "app/ports/room_store.h"
#include "app/ports/session_bus.h"
#include "app/ports/token_signer.h"
#include "app/ports/user_store.h"
#include "app/presence.h"
#include "app/rate_limiter.h"
#include "app/room_directory.h"

namespace parley {

struct Limits {
  size_t max_frame_bytes = 64 * 1024;
  size_t max_text_bytes = 4096;
  size_t send_queue_bytes = 4 * 1024 * 1024;
  double sends_per_second = 200;
  double send_burst = 400;
  double commands_per_second = 1000;  // per connection, every op but send
  double command_burst = 2000;
  size_t max_inflight = 1024;  // commands of one connection awaiting their result
  // Bytes of command frames of one connection awaiting their result (bodies are kept until
  // answered): with max_inflight, what one connection can park in the server.
  size_t max_inflight_bytes = 1024 * 1024;
  double room_creates_per_second = 20;  // per user: each public room is announced to everyone
  double room_create_burst = 500;
  size_t max_connections_per_user = 256;
  size_t max_connections = 100000;  // in all, per instance
  double connects_per_second = 0;   // WebSocket upgrades per instance (0: no limit)
  int64_t token_ttl_ms = 24LL * 3600 * 1000;
  int history_default_limit = 50;
  int history_max_limit = 200;
};

struct Services {
  Limits limits;
  ClockPtr clock;
  MessageLogPtr log;
  HistoryStorePtr history;
  RoomStorePtr rooms;
  UserStorePtr users;
  DeadLettersPtr dead_letters;
  PasswordHasherPtr hasher;
  TokenSignerPtr tokens;
  BlockingExecutorPtr blocking;
  RoomDirectory directory;
  Presence presence;
  RoomEventsPtr events;               // set by the gateway, which owns the connections
  SessionBusPtr sessions;             // cluster only: results and sessions across instances
  RemotePresencePtr remote_presence;  // cluster only: who is online on the other instances
  // Whether this instance can serve now (/readyz); unset: it can if the log answers a read.
  std::function<Status()> readiness;
  RateLimiter limiter;     // sends per user
  RateLimiter room_quota;  // room creations per user

  explicit Services(Limits l)
      : limits(l),
        limiter(l.sends_per_second, l.send_burst),
        room_quota(l.room_creates_per_second, l.room_create_burst) {}
};

template <typename T>
using Done = std::function<void(Result<T>)>;

/// A command with a time-to-live about to take effect, when nothing else claims its deadline
/// for it (a store does for what it writes): false if the gateway's timer expired it first (it
/// must then not take effect: answer expired_error()); true, and claimed, otherwise.
inline bool claim_deadline(const Services& s, const DeadlinePtr& deadline) {
  return claim_deadline(deadline, s.clock->steady_ms());
}

// One use case: one class, one handle(command, done). Checked at compile time.
template <typename U>
concept UseCase = requires(U u, const typename U::Command& c, Done<typename U::Reply> d) {
  { u.handle(c, d) } -> std::same_as<void>;
};

}  // namespace parley
