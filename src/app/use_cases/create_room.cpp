#include "app/use_cases/create_room.h"

#include "domain/names.h"

namespace parley {

static_assert(UseCase<CreateRoom>);

void CreateRoom::handle(const Command& cmd, Done<Reply> done) {
  if (!valid_room_name(cmd.room)) {
    return done(make_error(Errc::bad_request, "room names are 1-64 chars of [A-Za-z0-9_.-]"));
  }
  if (s_.directory.exists(cmd.room)) {
    return done(make_error(Errc::conflict, "room exists: " + cmd.room));
  }
  // Every public room is announced to every connection: without a quota, one user could make
  // the server write to all of its connections as fast as it can send commands.
  if (!s_.room_quota.allow(cmd.user, s_.clock->steady_ms())) {
    return done(make_error(Errc::rate_limited, "too many rooms created; slow down"));
  }
  Room room{cmd.room,
            cmd.is_private ? RoomKind::private_room : RoomKind::public_room,
            cmd.user,
            s_.clock->now_ms(),
            {cmd.user}};
  // The directory learns the room, and everyone hears of it, through the store's change feed.
  s_.rooms->create_room(room, false, cmd.deadline,
                        [room, done = std::move(done)](Status st) mutable {
                          if (!st) return done(st.error());
                          done(std::move(room));
                        });
}

}  // namespace parley
