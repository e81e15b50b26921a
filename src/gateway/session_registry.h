#pragma once
// Results belong to sessions, not connections: a session's current connection, and the results
// that found it offline (kept a while, bounded, and delivered when it reconnects).
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "gateway/client.h"

namespace parley {

class SessionRegistry {
 public:
  struct Attached {
    std::shared_ptr<Client> previous;  // the connection taken over, if any
    std::vector<Frame> pending;        // results that waited for this session
  };

  SessionRegistry(size_t max_pending = 256, int64_t keep_ms = 60000)
      : max_pending_(max_pending), keep_ms_(keep_ms) {}

  /// Makes @p client the session's connection.
  Attached attach(const std::shared_ptr<Client>& client, int64_t now_ms);
  /// Forgets @p client if it is still the session's connection.
  void detach(const Client& client, int64_t now_ms);
  /// The session's live connection, or null after storing @p frame for its return.
  std::shared_ptr<Client> route(const std::string& session, const Frame& frame, int64_t now_ms);

 private:
  struct Entry {
    std::weak_ptr<Client> current;
    std::deque<std::pair<int64_t, Frame>> pending;
    int64_t idle_since_ms = 0;
  };
  void expire(int64_t now_ms);

  size_t max_pending_;
  int64_t keep_ms_;
  std::mutex mutex_;
  std::unordered_map<std::string, Entry> sessions_;
  int64_t last_sweep_ms_ = 0;
};

}  // namespace parley
