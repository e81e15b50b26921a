#pragma once
// What this instance tells the others about who is online here (the publishing half of
// ClusterPresence's protocol). It keeps the local online (room, user) set and hands out:
// - deltas: what changed since the last take, coalesced (a pair that joined and left between
//   two takes is not sent), numbered 1, 2, ... and cut so that no record exceeds chunk_bytes;
// - a snapshot: the whole set as of the last delta number, cut into chunks of chunk_bytes,
//   sent only when an instance asks for it (it is new, or it saw a gap in the numbers);
// - seq(): the last delta number, which the periodic heartbeat carries, so a receiver that
//   missed the last delta notices without the set being sent.
// So the traffic follows the changes, not the number of users online.
//
// Pure and not locked: the caller serializes the calls (one mutex in the adapter).
#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace parley {

class PresenceOutbox {
 public:
  using Pair = std::pair<std::string, std::string>;  // (room, user)

  struct Delta {
    uint64_t seq = 0;
    std::vector<Pair> joined;  // sorted
    std::vector<Pair> left;    // sorted
  };
  struct Snapshot {
    uint64_t id = 0;                        // numbers the snapshots, so a receiver does not mix two
    uint64_t seq = 0;                       // the last delta it includes
    std::vector<std::vector<Pair>> chunks;  // at least one (maybe empty)
  };

  /// @p chunk_bytes bounds the encoded size of a delta or a chunk (roughly: the room, the user
  /// and 8 bytes of framing per pair; a single pair larger than that still goes alone).
  explicit PresenceOutbox(size_t chunk_bytes = 64 * 1024) : chunk_bytes_(chunk_bytes) {}

  /// The local user's first connection entered @p room (once per transition, by Presence).
  void joined(const std::string& room, const std::string& user);
  /// The local user's last connection left @p room.
  void left(const std::string& room, const std::string& user);

  /// The net changes since the last take, numbered; empty if nothing changed.
  std::vector<Delta> take_deltas();
  /// The set as of seq() (pending changes, not yet taken, are not in it).
  Snapshot snapshot();
  uint64_t seq() const { return seq_; }
  size_t size() const { return online_.size(); }

  static size_t cost(const Pair& pair) { return pair.first.size() + pair.second.size() + 8; }

 private:
  void change(Pair pair, bool online);

  size_t chunk_bytes_;
  std::set<Pair> online_;
  std::map<Pair, bool> pending_;  // pairs changed since the last take -> online at that take
  uint64_t seq_ = 0;
  uint64_t snapshots_ = 0;
};

}  // namespace parley
