#include "app/use_cases/read_presence.h"

namespace parley {

static_assert(UseCase<ReadPresence>);

void ReadPresence::handle(const Command& cmd, Done<Reply> done) {
  if (auto access = s_.directory.check_access(cmd.room, cmd.user); !access) {
    return done(access.error());
  }
  done(Reply{s_.presence.online(cmd.room)});
}

}  // namespace parley
