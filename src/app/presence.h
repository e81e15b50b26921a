#pragma once
// Who is in which room right now: users with at least one connection joined to the room,
// counted over every connection of this instance. Tells callers when a user's first
// connection joined or last one left, which is when member events are due.
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace parley {

class Presence {
 public:
  /// Counts one more connection of @p user in @p room. @p on_first runs if it is the user's
  /// first, still under the lock, so that member events are announced in the order they happen.
  /// @return true if it was the first.
  bool add(const std::string& room, const std::string& user,
           const std::function<void()>& on_first = {});
  /// Counts one connection less; @p on_last runs (under the lock) if it was the last.
  bool remove(const std::string& room, const std::string& user,
              const std::function<void()>& on_last = {});
  /// The users online in @p room, each once, sorted.
  std::vector<std::string> online(const std::string& room) const;

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::map<std::string, int>> rooms_;
};

}  // namespace parley
