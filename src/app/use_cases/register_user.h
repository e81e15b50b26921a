#pragma once
// register: a new account; the password is hashed (argon2id) off the event loops.
#include "app/services.h"

namespace parley {

class RegisterUser {
 public:
  struct Command {
    std::string user;
    std::string password;
  };
  struct Reply {
    std::string token;
  };

  explicit RegisterUser(Services& s) : s_(s) {}
  void handle(const Command& cmd, Done<Reply> done);

 private:
  Services& s_;
};

}  // namespace parley
