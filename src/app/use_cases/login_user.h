#pragma once
// login: check a password against the stored hash and issue a token.
#include "app/services.h"

namespace parley {

class LoginUser {
 public:
  struct Command {
    std::string user;
    std::string password;
  };
  struct Reply {
    std::string token;
  };

  explicit LoginUser(Services& s) : s_(s) {}
  void handle(const Command& cmd, Done<Reply> done);

 private:
  Services& s_;
};

}  // namespace parley
