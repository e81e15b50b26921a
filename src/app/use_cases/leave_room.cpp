#include "app/use_cases/leave_room.h"

namespace parley {

static_assert(UseCase<LeaveRoom>);

void LeaveRoom::handle(const Command& cmd, Done<Reply> done) {
  if (!cmd.was_present) return done(Reply{false});
  bool last = s_.presence.remove(cmd.room, cmd.user,
                                 [&] { s_.events->member_left(cmd.room, cmd.user, cmd.origin); });
  done(Reply{last});
}

}  // namespace parley
