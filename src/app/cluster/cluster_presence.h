#pragma once
// Who is online where across the cluster, as this instance sees it. Every instance publishes
// the changes of its online (room, user) set as numbered deltas, its whole set in chunks when
// asked (a snapshot), and a small heartbeat carrying its last delta number (PresenceOutbox,
// presence_outbox.h). This class holds the other instances' sets, follows each one's numbers
// to see a gap (then it asks for a snapshot), and says when a (room, user) pair becomes online
// or offline cluster-wide, so that member events are announced once per transition (from this
// instance's point of view) and not once per instance the user happens to be connected to.
//
// Numbers: an instance's id names one process (it carries a nonce), so its numbers start at 1
// with an empty set: a receiver that sees delta 1 (or heartbeat 0) first needs no snapshot.
// Records of one publisher arrive in the order they were published (one key, one partition).
//
// Local connections are counted by Presence (src/app/presence.h), as before. This class keeps a
// mirror of Presence's first/last transitions only (local_joined / local_left), not a predicate
// that reads Presence: Presence runs its callbacks under its own lock, and a heartbeat that
// asked Presence under this class's lock would take the two locks in the other order. With the
// mirror, every decision is made under this class's lock alone:
// - Presence::add's on_first calls local_joined(room, user): true -> announce member joined.
// - Presence::remove's on_last calls local_left(room, user): true -> announce member left.
// - delta(), snapshot(), heartbeat(), replace() and expire() return the remote transitions
//   that are due (the pair is online on no other remote instance and not locally).
// - The `presence` op merges Presence::online(room) and online(room) (remote users).
// The transitions are linearized by the lock; events returned by heartbeat/expire are published
// by the caller after it returns, so a caller that needs them strictly ordered with local ones
// publishes both from one strand.
//
// Pure: no clock inside (now_ms is passed in), no I/O. Bounded: at most max_instances remote
// instances and max_entries (room, user) pairs over all of them (a snapshot being received
// included); beyond that records or entries are dropped and counted.
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace parley {

struct MemberChange {
  enum class Kind { joined, left };
  Kind kind = Kind::joined;
  std::string room;
  std::string user;

  bool operator==(const MemberChange&) const = default;
};

class ClusterPresence {
 public:
  using Pair = std::pair<std::string, std::string>;  // (room, user)

  struct Options {
    std::string self;           // this instance's id: its own heartbeats are ignored
    int64_t timeout_ms = 6000;  // an instance silent for longer is dropped
    size_t max_instances = 1024;
    size_t max_entries = 1'000'000;  // (room, user) pairs over all remote instances
    int64_t ask_every_ms = 1000;     // snapshot requests to one instance, at most this often
  };

  /// What a record changed, and whether its publisher should be asked for a snapshot (it is
  /// unknown, or a gap was seen; asked at most every ask_every_ms).
  struct Update {
    std::vector<MemberChange> changes;
    bool ask_snapshot = false;
  };
  /// One chunk of a publisher's whole set as of its delta number `seq`.
  struct Chunk {
    uint64_t id = 0;     // the snapshot's number (per publisher)
    uint64_t seq = 0;    // the last delta the snapshot includes
    uint32_t index = 0;  // 0 .. count-1, published in order
    uint32_t count = 1;
    std::vector<Pair> pairs;
  };

  ClusterPresence() : ClusterPresence(Options{}) {}
  explicit ClusterPresence(Options options);

  /// Delta number @p seq of @p instance: @p joined and @p left (disjoint) at @p now_ms.
  /// Applied even after a gap (it is true news), which is then repaired by a snapshot.
  Update delta(const std::string& instance, int64_t now_ms, uint64_t seq, std::vector<Pair> joined,
               std::vector<Pair> left);
  /// One chunk of @p instance's snapshot; the last one replaces its set.
  Update snapshot(const std::string& instance, int64_t now_ms, Chunk chunk);
  /// @p instance is alive at @p now_ms and its last delta is @p seq.
  Update heartbeat(const std::string& instance, int64_t now_ms, uint64_t seq);

  /// Replaces @p instance's online set with @p online (duplicates allowed) and marks it alive
  /// at @p now_ms. @return the transitions it causes, sorted by (room, user).
  std::vector<MemberChange> replace(const std::string& instance, int64_t now_ms,
                                    std::vector<Pair> online);
  /// Drops the instances silent for more than timeout_ms at @p now_ms.
  /// @return the member-left transitions that implies.
  std::vector<MemberChange> expire(int64_t now_ms);
  /// Drops @p instance now (it said goodbye). @return the member-left transitions.
  std::vector<MemberChange> forget(const std::string& instance);

  /// A local user's first connection joined @p room. @return true if a member-joined event is
  /// due (the user is not online in @p room on any remote instance).
  bool local_joined(const std::string& room, const std::string& user);
  /// A local user's last connection left @p room. @return true if a member-left event is due.
  bool local_left(const std::string& room, const std::string& user);

  /// The users online in @p room on remote instances, sorted, each once.
  std::vector<std::string> online(const std::string& room) const;
  bool online_remotely(const std::string& room, const std::string& user) const;
  /// Remote instances heard from within timeout_ms of @p now_ms (this one not included: the
  /// cluster has live_instances(now) + 1 live instances).
  size_t live_instances(int64_t now_ms) const;

  /// Records refused because max_instances other instances were held.
  uint64_t dropped_heartbeats() const;
  /// Gaps seen in instances' delta numbers (each repaired by a snapshot).
  uint64_t gaps() const;
  /// (room, user) entries dropped because max_entries were held.
  uint64_t dropped_entries() const;
  /// Remote (room, user) entries held over all instances.
  size_t entries() const;

 private:
  struct Instance {
    int64_t last_seen_ms = 0;
    std::set<Pair> online;
    bool synced = false;  // online is the publisher's set as of delta seq
    uint64_t seq = 0;
    bool asked = false;  // a snapshot was asked for, at asked_ms
    int64_t asked_ms = 0;
    // The snapshot being received: its number and next chunk index, and the pairs so far.
    uint64_t snap_id = 0;
    uint32_t snap_next = 0;
    std::vector<Pair> snap_pairs;
  };
  using Instances = std::unordered_map<std::string, Instance>;
  struct Here {
    int remote = 0;  // remote instances that have the user online in the room
    bool local = false;
  };

  // Count changes; each returns true if the pair went from offline to online cluster-wide
  // (add) or from online to offline (remove).
  bool add_remote(const Pair& pair);
  bool remove_remote(const Pair& pair);
  void remove_instance(Instances::iterator it, std::vector<MemberChange>& changes);
  // The instance's entry, marked alive at now_ms; end() if max_instances are held.
  Instances::iterator touch(const std::string& instance, int64_t now_ms);
  std::vector<MemberChange> replace_locked(Instance& inst, std::vector<Pair> online);
  void gap(Instance& inst);
  // Whether to ask for a snapshot now (not synced, not asked within ask_every_ms).
  bool ask(Instance& inst, int64_t now_ms);
  void erase_if_gone(const std::string& room, const std::string& user);

  const Options options_;
  mutable std::mutex mutex_;
  Instances instances_;
  // room -> user -> who has them; std::map so online() is sorted without sorting.
  std::unordered_map<std::string, std::map<std::string, Here>> rooms_;
  size_t entries_ = 0;       // pairs in instances' online sets
  size_t snap_entries_ = 0;  // pairs in snapshots being received
  uint64_t dropped_heartbeats_ = 0;
  uint64_t gaps_ = 0;
  uint64_t dropped_entries_ = 0;
};

}  // namespace parley
