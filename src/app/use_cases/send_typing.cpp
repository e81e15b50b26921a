#include "app/use_cases/send_typing.h"

namespace parley {

static_assert(UseCase<SendTyping>);

void SendTyping::handle(const Command& cmd, Done<Reply> done) {
  if (auto access = s_.directory.check_access(cmd.room, cmd.user); !access) {
    return done(access.error());
  }
  s_.events->typing(cmd.room, cmd.user, cmd.origin);
  done(Reply{});
}

}  // namespace parley
