#include "app/use_cases/join_room.h"

namespace parley {

static_assert(UseCase<JoinRoom>);

void JoinRoom::handle(const Command& cmd, Done<Reply> done) {
  if (auto access = s_.directory.check_access(cmd.room, cmd.user); !access) {
    return done(access.error());
  }
  s_.log->head(cmd.room, [done = std::move(done)](Result<int64_t> head) {
    if (!head) return done(head.error());
    done(Reply{*head});
  });
}

}  // namespace parley
