#include "app/use_cases/send_message.h"

#include "app/use_cases/room_access.h"

namespace parley {

static_assert(UseCase<SendMessage>);

void SendMessage::handle(const Command& cmd, Done<Reply> done) {
  if (cmd.text.empty()) return done(make_error(Errc::bad_request, "text must not be empty"));
  if (cmd.text.size() > s_.limits.max_text_bytes) {
    return done(
        make_error(Errc::too_large,
                   "text is longer than " + std::to_string(s_.limits.max_text_bytes) + " bytes"));
  }
  if (cmd.client_msg_id.size() > 128) {
    return done(make_error(Errc::bad_request, "client_msg_id is longer than 128 chars"));
  }
  with_access(s_, cmd.room, cmd.user, std::move(done),
              [this, cmd](Done<Reply> done) { admit(cmd, std::move(done)); });
}

void SendMessage::admit(const Command& cmd, Done<Reply> done) {
  if (!s_.limiter.allow(cmd.user, s_.clock->steady_ms())) {
    return done(make_error(Errc::rate_limited, "too many messages; slow down"));
  }
  s_.log->append(
      AppendRequest{cmd.room, cmd.user, cmd.text, cmd.client_msg_id, cmd.deadline, cmd.trace},
      std::move(done));
}

}  // namespace parley
