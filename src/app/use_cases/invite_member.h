#pragma once
// invite: a member of a room adds another user to it (the way into private rooms).
#include "app/services.h"

namespace parley {

class InviteMember {
 public:
  struct Command {
    std::string user;
    std::string room;
    std::string invitee;
    DeadlinePtr deadline;  // null: no time-to-live
  };
  struct Reply {};

  explicit InviteMember(Services& s) : s_(s) {}
  void handle(const Command& cmd, Done<Reply> done);

 private:
  void invite(const Command& cmd, Done<Reply> done);  // past the access check
  Services& s_;
};

}  // namespace parley
