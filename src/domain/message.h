#pragma once
// A chat message as stored in the log: its position (room, seq) is its identity.
#include <cstdint>
#include <string>

namespace parley {

struct Message {
  std::string room;
  int64_t seq = 0;
  std::string msg_id;
  std::string from;
  std::string text;
  int64_t ts = 0;             // unix milliseconds, assigned when the log accepts it
  std::string client_msg_id;  // empty when the sender gave none
};

}  // namespace parley
