#pragma once
// history: a page of a room's messages older than `before`, oldest first. The one place that
// checks `before` and `limit`, for the WebSocket op and the HTTP endpoint alike.
#include <optional>

#include "app/services.h"

namespace parley {

class ReadHistory {
 public:
  struct Command {
    std::string user;
    std::string room;
    std::optional<int64_t> before;  // exclusive, >= 1; absent = from the newest
    std::optional<int64_t> limit;   // >= 1, capped at the maximum; absent = the default
  };
  using Reply = Page;

  explicit ReadHistory(Services& s) : s_(s) {}
  void handle(const Command& cmd, Done<Reply> done);

 private:
  Services& s_;
};

}  // namespace parley
