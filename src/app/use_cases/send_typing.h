#pragma once
// typing: tell the room's joined connections that a member is typing. Ephemeral: never stored,
// takes no seq; the same access rule as reading the room.
#include "app/services.h"

namespace parley {

class SendTyping {
 public:
  struct Command {
    std::string user;
    std::string room;
    uint64_t origin = 0;   // the sending connection, which is not told
    DeadlinePtr deadline;  // null: no time-to-live
  };
  struct Reply {};

  explicit SendTyping(Services& s) : s_(s) {}
  void handle(const Command& cmd, Done<Reply> done);

 private:
  void announce(const Command& cmd, Done<Reply> done);  // past the access check
  Services& s_;
};

}  // namespace parley
