#pragma once
// Results belong to sessions, not connections: a session's current connection, and the results
// that found it offline (kept a while, bounded, and delivered when it reconnects).
//
// A session belongs to its user: sessions are keyed by (user, session id), so another user who
// presents the same id gets a session of their own and never closes, reaches or learns anything
// of the first one.
//
// Every byte parked here is bounded: a session is remembered only while it is connected or
// holds pending results; pending results are capped per session (bytes and count) and in total
// (bytes, each result charged kResultOverhead on top of its frame for its bookkeeping), so the
// sessions without a connection are at most max_pending_bytes_total / kResultOverhead. Over a
// cap the oldest results go first; results older than keep_ms are swept. Pending results are
// also capped per user (over all of the user's sessions): a user over it loses its own oldest,
// so one user cannot push everyone else's results out through the total cap.
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "domain/trace_context.h"
#include "gateway/client.h"

namespace parley {

struct SessionLimits {
  // Keep it well under a connection's send queue: the whole backlog is sent on reconnect, right
  // after the welcome, and must not get the new connection closed as a slow consumer.
  size_t max_pending_bytes_per_session = 1 << 20;
  size_t max_pending_bytes_total = 64 << 20;  // across all sessions of the instance
  size_t max_pending_per_session = 256;
  int64_t keep_ms = 60000;                      // a result older than this is no longer delivered
  size_t max_pending_bytes_per_user = 8 << 20;  // over all sessions of one user
};

class SessionRegistry {
 public:
  /// What a kept result costs besides its frame's bytes (list node, frame control block, and a
  /// share of its session's entry), so that a flood of tiny results is bounded too.
  static constexpr size_t kResultOverhead = 256;
  /// At most this many expired results are swept per call: no call pays for a large backlog.
  static constexpr int kSweepPerCall = 64;

  struct Attached {
    std::shared_ptr<Client> previous;  // the connection of the same user taken over, if any
    std::vector<Frame> pending;        // results that waited for this session, oldest first
  };

  explicit SessionRegistry(SessionLimits limits = {});
  SessionRegistry(const SessionRegistry&) = delete;
  SessionRegistry& operator=(const SessionRegistry&) = delete;

  /// Makes @p client the connection of session (client->user, client->session).
  Attached attach(const std::shared_ptr<Client>& client, int64_t now_ms);
  /// Forgets @p client if it is still its session's connection.
  void detach(const Client& client, int64_t now_ms);
  /// The session's live connection, or null after keeping @p frame (within the caps) for its
  /// return, unless @p keep is false (it goes elsewhere).
  std::shared_ptr<Client> route(const std::string& user, const std::string& session,
                                const Frame& frame, int64_t now_ms, bool keep = true);

  /// This instance's claim for connection @p connection was read back from the cluster's bus:
  /// if it is still the session's connection, any claim of another instance read from now on
  /// is newer than it.
  void confirm(const std::string& user, const std::string& session, uint64_t connection);

  struct Released {
    std::shared_ptr<Client> previous;  // taken over, for the caller to close
    std::vector<Frame> pending;        // the results kept here, for the claiming instance
    std::vector<TraceContext> traces;  // each one's command's trace (its log scope when kept)
  };
  /// Another instance claimed the session, read after every claim before it. If the session's
  /// connection here is confirmed, that claim is newer: the connection is returned, marked
  /// taken over, with the results kept here. If it is not confirmed yet, its own claim comes
  /// later in the log: the other one is older and nothing changes.
  Released release(const std::string& user, const std::string& session, int64_t now_ms);
  /// Removes and returns the results kept for the session (none if it is connected here).
  /// With @p traces, their commands' traces too, one each.
  std::vector<Frame> take_pending(const std::string& user, const std::string& session,
                                  int64_t now_ms, std::vector<TraceContext>* traces = nullptr);

  /// Bytes charged for the results kept (frames plus kResultOverhead each).
  size_t pending_bytes() const;
  /// Sessions remembered, connected or holding results.
  size_t session_count() const;

 private:
  struct Key {
    std::string user;
    std::string session;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const;
  };
  struct Item;
  // Every kept result, oldest first, across all sessions: the total cap and the expiry sweep
  // take from the front in O(1). A session's own results are a chain through this list.
  using Items = std::list<Item>;
  struct Entry {
    std::weak_ptr<Client> current;
    Items::iterator first;  // the session's oldest result; meaningful only if count > 0
    Items::iterator last;   // its newest
    size_t count = 0;
    size_t bytes = 0;
    bool confirmed = false;  // current's claim was read back from the cluster's bus
  };
  // A user's results, oldest first: its oldest is always the oldest of one of its sessions.
  struct UserResults {
    std::list<Items::iterator> order;
    size_t bytes = 0;
  };
  using Users = std::unordered_map<std::string, UserResults>;
  struct Item {
    Entry* owner;    // map nodes do not move while they exist
    const Key* key;  // the owner's key, to forget it
    Items::iterator next_in_session;
    std::list<Items::iterator>::iterator in_user;
    int64_t at_ms;
    size_t charged;
    Frame frame;
    TraceContext trace;  // of the command it answers: it goes on with it to another instance
  };
  using Sessions = std::unordered_map<Key, Entry, KeyHash>;

  static bool live(const std::shared_ptr<Client>& c);
  void push(Entry& e, const Key& key, int64_t now_ms, size_t charged, const Frame& frame);
  // Removes the oldest result of @p e; the session is forgotten if that left it idle, unless
  // it is @p keep (about to receive a result).
  void pop_oldest(Entry& e, const Entry* keep);
  // Forgets a session with neither a live connection nor results.
  void forget_if_idle(Entry& e, const Key& key);
  void sweep(int64_t now_ms);
  // Removes the session's results, those not past keep_ms returned oldest first.
  std::vector<Frame> drain(Entry& e, int64_t now_ms, std::vector<TraceContext>* traces = nullptr);

  SessionLimits limits_;
  mutable std::mutex mutex_;
  Sessions sessions_;
  Items items_;
  Users users_;
  size_t total_bytes_ = 0;
};

}  // namespace parley
