#pragma once
// history: a page of a room's messages older than `before`, oldest first.
#include "app/services.h"

namespace parley {

class ReadHistory {
 public:
  struct Command {
    std::string user;
    std::string room;
    int64_t before = 0;  // exclusive; 0 = from the newest
    int limit = 0;       // 0 = the default
  };
  using Reply = Page;

  explicit ReadHistory(Services& s) : s_(s) {}
  void handle(const Command& cmd, Done<Reply> done);

 private:
  Services& s_;
};

}  // namespace parley
