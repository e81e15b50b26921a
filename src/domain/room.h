#pragma once
// Rooms and who may use them. The access rule lives here, in one place.
#include <set>
#include <string>
#include <string_view>

namespace parley {

enum class RoomKind { public_room, private_room, direct };

/// The kind's name where rooms are stored or sent as text: "public", "private" or "dm".
inline const char* room_kind_name(RoomKind kind) {
  switch (kind) {
    case RoomKind::private_room:
      return "private";
    case RoomKind::direct:
      return "dm";
    case RoomKind::public_room:
      break;
  }
  return "public";
}

/// The kind named @p name (room_kind_name); anything else is public.
inline RoomKind room_kind_of(std::string_view name) {
  if (name == "private") return RoomKind::private_room;
  if (name == "dm") return RoomKind::direct;
  return RoomKind::public_room;
}

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
