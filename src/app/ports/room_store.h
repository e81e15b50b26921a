#pragma once
// Durable rooms and memberships. The in-memory RoomDirectory is loaded from it at start-up
// and changed only after the store has made a change durable.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "domain/result.h"
#include "domain/room.h"

namespace parley {

class RoomStore {
 public:
  virtual ~RoomStore() = default;

  /// Every room with its members (start-up only; may block).
  virtual std::vector<Room> load_rooms() = 0;

  /// Creates @p room with its members; `conflict` if a room of that name exists
  /// (unless @p if_absent, then the existing room is kept and ok is returned).
  virtual void create_room(Room room, bool if_absent, std::function<void(Status)> done) = 0;

  /// Adds @p user to the members of @p room (no-op if already one).
  virtual void add_member(std::string room, std::string user, std::function<void(Status)> done) = 0;
};

using RoomStorePtr = std::shared_ptr<RoomStore>;

}  // namespace parley
