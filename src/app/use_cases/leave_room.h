#pragma once
// leave (or a dropped connection): uncount the connection from the room's presence, and
// announce the user's departure if it was its last connection there. Leaving a room never
// joined is fine (the protocol says `leave` of a room not joined is ok).
#include "app/services.h"

namespace parley {

class LeaveRoom {
 public:
  struct Command {
    std::string user;
    std::string room;
    bool was_present = false;  // the connection had been counted in presence (its join completed)
    uint64_t origin = 0;       // the leaving connection, which is not told
  };
  struct Reply {
    bool last = false;  // the user's last connection left the room
  };

  explicit LeaveRoom(Services& s) : s_(s) {}
  void handle(const Command& cmd, Done<Reply> done);

 private:
  Services& s_;
};

}  // namespace parley
