#include "app/use_cases/send_typing.h"

#include "app/use_cases/room_access.h"

namespace parley {

static_assert(UseCase<SendTyping>);

void SendTyping::handle(const Command& cmd, Done<Reply> done) {
  auto typed = [this, cmd, done = std::move(done)](Status access) mutable {
    if (!access) return done(access.error());
    s_.events->typing(cmd.room, cmd.user, cmd.origin);
    done(Reply{});
  };
  if (auto access = s_.directory.check_access(cmd.room, cmd.user); !access) {
    return recheck_access(s_, cmd.room, cmd.user, std::move(typed));
  }
  typed(Ok{});
}

}  // namespace parley
