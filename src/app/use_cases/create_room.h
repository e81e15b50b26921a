#pragma once
// create_room: a new public or private room; its creator is its first member.
#include "app/services.h"

namespace parley {

class CreateRoom {
 public:
  struct Command {
    std::string user;
    std::string room;
    bool is_private = false;
    DeadlinePtr deadline;  // null: no time-to-live
  };
  using Reply = Room;

  explicit CreateRoom(Services& s) : s_(s) {}
  void handle(const Command& cmd, Done<Reply> done);

 private:
  Services& s_;
};

}  // namespace parley
