#pragma once
// A connection's join has gone through: count it in the room's presence, and announce the user
// if this is its first connection there. The announcement is made while presence is locked, so
// every connection hears member events in the order they happened.
#include "app/services.h"

namespace parley {

class EnterRoom {
 public:
  struct Command {
    std::string user;
    std::string room;
    uint64_t origin = 0;  // the joining connection, which is not told
  };
  struct Reply {
    bool first = false;  // the user's first connection in the room
  };

  explicit EnterRoom(Services& s) : s_(s) {}
  void handle(const Command& cmd, Done<Reply> done);

 private:
  Services& s_;
};

}  // namespace parley
