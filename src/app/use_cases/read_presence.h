#pragma once
// presence: the users with at least one connection joined to a room, for its members.
#include <vector>

#include "app/services.h"

namespace parley {

class ReadPresence {
 public:
  struct Command {
    std::string user;
    std::string room;
    DeadlinePtr deadline;  // null: no time-to-live
  };
  struct Reply {
    std::vector<std::string> online;  // each once, sorted
  };

  explicit ReadPresence(Services& s) : s_(s) {}
  void handle(const Command& cmd, Done<Reply> done);

 private:
  void list(const Command& cmd, Done<Reply> done);  // past the access check
  Services& s_;
};

}  // namespace parley
