#pragma once
// join: check the user may read the room and learn its head. The gateway then replays
// what the client missed and switches the connection to live delivery.
#include "app/services.h"

namespace parley {

class JoinRoom {
 public:
  struct Command {
    std::string user;
    std::string room;
  };
  struct Reply {
    int64_t head = 0;
  };

  explicit JoinRoom(Services& s) : s_(s) {}
  void handle(const Command& cmd, Done<Reply> done);

 private:
  Services& s_;
};

}  // namespace parley
