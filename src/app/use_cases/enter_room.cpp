#include "app/use_cases/enter_room.h"

namespace parley {

static_assert(UseCase<EnterRoom>);

void EnterRoom::handle(const Command& cmd, Done<Reply> done) {
  bool first = s_.presence.add(cmd.room, cmd.user,
                               [&] { s_.events->member_joined(cmd.room, cmd.user, cmd.origin); });
  done(Reply{first});
}

}  // namespace parley
