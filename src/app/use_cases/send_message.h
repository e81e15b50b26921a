#pragma once
// send: check the text, the room and the sender's rights and rate, then append to the log.
// The reply comes only once the message is durable.
#include "app/services.h"

namespace parley {

class SendMessage {
 public:
  struct Command {
    std::string user;
    std::string room;
    std::string text;
    std::string client_msg_id;
    DeadlinePtr deadline;
    TraceContext trace{};  // handed on with the message's record
  };
  using Reply = Appended;

  explicit SendMessage(Services& s) : s_(s) {}
  void handle(const Command& cmd, Done<Reply> done);

 private:
  void admit(const Command& cmd, Done<Reply> done);  // past the access check
  Services& s_;
};

}  // namespace parley
