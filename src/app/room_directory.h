#pragma once
// The rooms and their members, in memory: every access check reads it, so it must not cost a
// database round trip. Loaded from the RoomStore at start-up; changed only after the store made
// the change durable. Rarely written, often read: a shared mutex, never held on the delivery path.
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "domain/result.h"
#include "domain/room.h"

namespace parley {

class RoomDirectory {
 public:
  void load(std::vector<Room> rooms);

  /// ok if @p user may read and write @p room; `not_found` or `forbidden` otherwise.
  Status check_access(const std::string& room, const std::string& user) const;
  bool exists(const std::string& room) const;
  std::optional<RoomKind> kind(const std::string& room) const;

  /// Records a room made durable; false if one of that name was already known.
  bool add_room(Room room);
  void add_member(const std::string& room, const std::string& user);
  size_t size() const;

 private:
  mutable std::shared_mutex mutex_;
  std::unordered_map<std::string, Room> rooms_;
};

}  // namespace parley
