#pragma once
// Rooms and who may use them. The access rule lives here, in one place.
#include <set>
#include <string>

namespace parley {

enum class RoomKind { public_room, private_room, direct };

struct Room {
  std::string name;
  RoomKind kind = RoomKind::public_room;
  std::string created_by;
  int64_t created_at = 0;
  std::set<std::string> members;

  bool is_public() const { return kind == RoomKind::public_room; }
  // Public rooms are open to every authenticated user; private and dm rooms to members only.
  bool can_access(const std::string& user) const { return is_public() || members.count(user) > 0; }
};

}  // namespace parley
