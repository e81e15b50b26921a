#include "app/room_directory.h"

#include <mutex>

namespace parley {

void RoomDirectory::load(std::vector<Room> rooms) {
  std::unique_lock lock(mutex_);
  rooms_.clear();
  for (auto& room : rooms) {
    auto name = room.name;
    rooms_.emplace(std::move(name), std::move(room));
  }
}

Status RoomDirectory::check_access(const std::string& room, const std::string& user) const {
  std::shared_lock lock(mutex_);
  auto it = rooms_.find(room);
  if (it == rooms_.end()) return make_error(Errc::not_found, "no such room: " + room);
  if (!it->second.can_access(user)) {
    return make_error(Errc::forbidden, "not a member of room " + room);
  }
  return Ok{};
}

bool RoomDirectory::exists(const std::string& room) const {
  std::shared_lock lock(mutex_);
  return rooms_.count(room) > 0;
}

std::optional<RoomKind> RoomDirectory::kind(const std::string& room) const {
  std::shared_lock lock(mutex_);
  auto it = rooms_.find(room);
  if (it == rooms_.end()) return std::nullopt;
  return it->second.kind;
}

bool RoomDirectory::add_room(Room room) {
  std::unique_lock lock(mutex_);
  auto name = room.name;
  return rooms_.emplace(std::move(name), std::move(room)).second;
}

void RoomDirectory::add_member(const std::string& room, const std::string& user) {
  std::unique_lock lock(mutex_);
  auto it = rooms_.find(room);
  if (it != rooms_.end()) it->second.members.insert(user);
}

size_t RoomDirectory::size() const {
  std::shared_lock lock(mutex_);
  return rooms_.size();
}

}  // namespace parley
