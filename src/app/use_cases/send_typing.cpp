#include "app/use_cases/send_typing.h"

#include "app/use_cases/room_access.h"

namespace parley {

static_assert(UseCase<SendTyping>);

void SendTyping::handle(const Command& cmd, Done<Reply> done) {
  with_access(s_, cmd.room, cmd.user, std::move(done),
              [this, cmd](Done<Reply> done) { announce(cmd, std::move(done)); });
}

void SendTyping::announce(const Command& cmd, Done<Reply> done) {
  // The access check may have waited (a sync of the room's partition): past the ttl, the
  // client has its `timeout`, and nobody is told of a typing that old.
  if (!claim_deadline(s_, cmd.deadline)) return done(expired_error());
  s_.events->typing(cmd.room, cmd.user, cmd.origin);
  done(Reply{});
}

}  // namespace parley
