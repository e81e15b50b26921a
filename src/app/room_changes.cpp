#include "app/room_changes.h"

#include "app/services.h"

namespace parley {

bool apply_room_change(Services& s, const RoomChange& change) {
  switch (change.kind) {
    case RoomChange::Kind::room_created:
      if (!s.directory.add_room(change.room)) return false;
      if (change.room.is_public() && s.events) s.events->room_created(change.room);
      return true;
    case RoomChange::Kind::member_added:
      s.directory.add_member(change.room.name, change.member);
      return true;
    case RoomChange::Kind::room_loaded:
      if (s.directory.add_room(change.room)) return true;
      for (const auto& member : change.room.members)
        s.directory.add_member(change.room.name, member);
      return true;
  }
  return false;
}

}  // namespace parley
