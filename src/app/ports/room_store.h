#pragma once
// The room catalog: durable rooms and memberships, with a change feed. The in-memory
// RoomDirectory is loaded from it at start-up and then follows the feed: every change made
// durable, here or (in a cluster) on any instance, reaches the sink, and a change made through
// this store reaches it before the `done` of the call that made it.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "domain/deadline.h"
#include "domain/result.h"
#include "domain/room.h"

namespace parley {

struct RoomChange {
  // room_loaded: not news, but the store's state of a room read again (a cluster instance that
  // starts reading a partition): the directory takes the room and its members, nobody is told.
  enum class Kind { room_created, member_added, room_loaded };
  Kind kind = Kind::room_created;
  Room room;           // room_created, room_loaded: the room; member_added: its name (and kind)
  std::string member;  // member_added

  static RoomChange created(Room room) { return {Kind::room_created, std::move(room), {}}; }
  static RoomChange loaded(Room room) { return {Kind::room_loaded, std::move(room), {}}; }
  static RoomChange added(std::string room, std::string user) {
    RoomChange c{Kind::member_added, {}, std::move(user)};
    c.room.name = std::move(room);
    return c;
  }
};

class RoomStore {
 public:
  virtual ~RoomStore() = default;

  /// Every room with its members (start-up only; may block).
  virtual std::vector<Room> load_rooms() = 0;

  /// Creates @p room with its members; `conflict` if a room of that name exists
  /// (unless @p if_absent, then the existing room is kept and ok is returned).
  /// @p deadline (a command's ttl_ms, or null): the store claims it at its last moment before
  /// applying the change, as `append` does; if the deadline wins, the change is never applied
  /// and `timeout` is returned.
  virtual void create_room(Room room, bool if_absent, DeadlinePtr deadline,
                           std::function<void(Status)> done) = 0;

  /// Adds @p user to the members of @p room (no-op if already one), on @p invited_by's word:
  /// a store that decides by itself (the cluster's log) checks that one may invite.
  /// @p deadline as for create_room.
  virtual void add_member(std::string room, std::string user, std::string invited_by,
                          DeadlinePtr deadline, std::function<void(Status)> done) = 0;

  /// Registers the sink of the change feed. Called once, before start.
  virtual void on_change(std::function<void(const RoomChange&)> sink) = 0;

  /// Calls @p done once the change feed has delivered every change of @p room made durable
  /// before this call, wherever it was made (or after a bounded wait). Before refusing a room
  /// (`not_found`, `forbidden`), a use case syncs and looks again: what another instance
  /// acknowledged is never refused here. A store that makes every change itself is always in
  /// sync. @p done may run on another thread.
  virtual void sync(std::string room, std::function<void()> done) {
    (void)room;
    done();
  }
};

using RoomStorePtr = std::shared_ptr<RoomStore>;

}  // namespace parley
