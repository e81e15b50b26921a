#pragma once
// The fold: the one function from (state, record) to decision that every instance and every
// persister runs over the log. Deterministic: it reads nothing but its state and the record
// (its position and the broker's append time included), so every process that folds the same
// records from the same snapshot decides the same thing.
//
// State is per partition (a room's records all live in one partition): the rooms of the
// partition with their members and newest seq, and the dedupe window of client_msg_ids.
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "app/cluster/log_record.h"
#include "domain/message.h"
#include "domain/result.h"
#include "domain/room.h"

namespace parley {

// A send remembered by the dedupe window: enough to answer a repeat with the first result.
struct WindowEntry {
  std::string room;
  std::string user;
  std::string client_msg_id;
  int64_t seq = 0;  // offset + 1
  std::string msg_id;
  int64_t ts = 0;
};

// What a partition's fold state is rebuilt from (PostgreSQL, at the offset the persister
// committed): the rooms of the partition and the window entries with seq > next_offset - window.
struct PartitionSnapshot {
  int32_t partition = 0;
  int64_t next_offset = 0;  // the first offset not yet folded into this snapshot
  std::vector<Room> rooms;
  std::unordered_map<std::string, int64_t> heads;  // room -> newest seq
  std::vector<WindowEntry> window;                 // oldest first
};

struct Folded {
  enum class Kind {
    message,       // a new message: `message` holds it (seq = offset + 1, ts = append time)
    duplicate,     // a repeat of a send in the window: `message` holds the first one's result
    refused,       // not applied: `error` says why (not_found, forbidden, conflict, bad_request)
    expired,       // appended after its deadline: not applied, `error` is `timeout`
    room_created,  // `room` holds the new room
    member_added,  // `room` holds the room after the change, `member` the new member
    room_exists,   // open_dm of an existing dm room: `room` holds it (ok for the asker)
  };
  Kind kind = Kind::refused;
  Message message;
  Error error;
  Room room;
  std::string member;

  bool applied() const {
    return kind == Kind::message || kind == Kind::room_created || kind == Kind::member_added;
  }
};

// The order of the checks, for every kind: a refusal first (the record could never apply),
// then the deadline (a record appended after it is `expired`, even one that would only have
// answered `duplicate` or `room_exists`), then the outcome. Malformed records, which no origin
// makes (an open_dm whose room is not dm_room_name(user, target), or of a user with themself; a
// create_room of a dm: name), are refused `bad_request` so that a bug cannot forge a dm room.
//
// Not thread-safe: one fold is driven by one thread (the tail or the persister loop).
class LogFold {
 public:
  /// @p window: how many offsets back, per partition, a client_msg_id is remembered.
  explicit LogFold(int64_t window = 100000);

  /// Replaces the state of one partition with @p snapshot.
  void load(PartitionSnapshot snapshot);
  /// Forgets a partition (a persister that lost it in a rebalance).
  void drop(int32_t partition);

  /// Folds one record. Records of a partition must come in offset order, starting at the
  /// snapshot's next_offset (a record below it was already folded and gets `std::nullopt`).
  std::optional<Folded> apply(const LogPosition& at, const LogRecord& record);
  /// Moves the position past @p at without applying anything (bytes that are not a record), as
  /// apply() moves it. False if @p at was already folded.
  bool skip(const LogPosition& at);

  /// Whether @p partition's state was loaded (or folded into) here.
  bool holds(int32_t partition) const { return partitions_.count(partition) > 0; }

  /// The next offset to fold in @p partition (0 if never loaded).
  int64_t next_offset(int32_t partition) const;
  /// The room's state, or nullptr.
  const Room* room(const std::string& name) const;
  /// The newest seq of @p room folded so far, 0 if none.
  int64_t head(const std::string& room) const;

  /// What a persister that stored everything folded so far in @p partition would load back:
  /// its rooms (sorted by name) with heads, and the window entries with seq > next_offset -
  /// window, oldest first. Loading it into a fresh fold gives one that decides the same.
  PartitionSnapshot snapshot(int32_t partition) const;
  /// Window entries held for @p partition (never more than the window, for tests and metrics).
  size_t window_size(int32_t partition) const;
  int64_t window() const { return window_; }

 private:
  struct RoomState {
    Room room;
    int64_t head = 0;
  };
  struct Partition {
    int64_t next_offset = 0;
    std::unordered_map<std::string, RoomState> rooms;
    // Entries ordered by seq; the index points into it (a deque keeps references to its
    // elements valid across push_back and pop_front). Keys: room '\0' user '\0' client_msg_id.
    std::deque<WindowEntry> window;
    std::unordered_map<std::string, const WindowEntry*> index;
  };

  static std::string window_key(const std::string& room, const std::string& user,
                                const std::string& client_msg_id);
  void evict(Partition& p, int64_t offset) const;
  void remember(Partition& p, WindowEntry entry);
  void forget_rooms(int32_t partition, const Partition& p);

  Folded fold_send(Partition& p, const LogPosition& at, const LogRecord& r);
  Folded fold_create_room(int32_t partition, Partition& p, const LogPosition& at,
                          const LogRecord& r);
  Folded fold_invite(Partition& p, const LogPosition& at, const LogRecord& r);
  Folded fold_open_dm(int32_t partition, Partition& p, const LogPosition& at, const LogRecord& r);
  RoomState& add_room(int32_t partition, Partition& p, Room room);

  int64_t window_;
  std::unordered_map<int32_t, Partition> partitions_;
  // room name -> its partition, so room() and head() need not search every partition.
  std::unordered_map<std::string, int32_t> where_;
};

}  // namespace parley
