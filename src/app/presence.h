#pragma once
// Who is in which room right now: users with at least one connection joined to the room,
// counted over every connection of this instance. Tells callers when a user's first
// connection joined or last one left, which is when member events are due.
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace parley {

class Presence {
 public:
  /// @return true if this is the user's first connection in the room.
  bool add(const std::string& room, const std::string& user);
  /// @return true if this was the user's last connection in the room.
  bool remove(const std::string& room, const std::string& user);
  /// The users online in @p room, each once, sorted.
  std::vector<std::string> online(const std::string& room) const;

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::map<std::string, int>> rooms_;
};

}  // namespace parley
