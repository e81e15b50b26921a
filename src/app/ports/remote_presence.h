#pragma once
// Who is online in a room on the other instances of a cluster (the single node has none).
#include <memory>
#include <string>
#include <vector>

namespace parley {

class RemotePresence {
 public:
  virtual ~RemotePresence() = default;
  /// The users with a connection joined to @p room on another live instance, sorted, unique.
  virtual std::vector<std::string> online(const std::string& room) const = 0;
};

using RemotePresencePtr = std::shared_ptr<RemotePresence>;

}  // namespace parley
