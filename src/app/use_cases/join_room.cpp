#include "app/use_cases/join_room.h"

#include "app/use_cases/room_access.h"

namespace parley {

static_assert(UseCase<JoinRoom>);

void JoinRoom::handle(const Command& cmd, Done<Reply> done) {
  auto joined = [this, room = cmd.room, done = std::move(done)](Status access) mutable {
    if (!access) return done(access.error());
    s_.log->head(room, [done = std::move(done)](Result<int64_t> head) {
      if (!head) return done(head.error());
      done(Reply{*head});
    });
  };
  if (auto access = s_.directory.check_access(cmd.room, cmd.user); !access) {
    return recheck_access(s_, cmd.room, cmd.user, std::move(joined));
  }
  joined(Ok{});
}

}  // namespace parley
