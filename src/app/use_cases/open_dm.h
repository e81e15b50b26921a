#pragma once
// dm: the direct-message room of two users, created on first use, the same from either side.
#include "app/services.h"

namespace parley {

class OpenDm {
 public:
  struct Command {
    std::string user;
    std::string peer;
    DeadlinePtr deadline;  // null: no time-to-live
  };
  struct Reply {
    std::string room;
  };

  explicit OpenDm(Services& s) : s_(s) {}
  void handle(const Command& cmd, Done<Reply> done);

 private:
  Services& s_;
};

}  // namespace parley
