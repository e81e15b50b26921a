#include "app/use_cases/open_dm.h"

#include "domain/names.h"

namespace parley {

static_assert(UseCase<OpenDm>);

void OpenDm::handle(const Command& cmd, Done<Reply> done) {
  if (cmd.peer == cmd.user) return done(make_error(Errc::bad_request, "cannot dm yourself"));
  if (!valid_user_name(cmd.peer)) return done(make_error(Errc::not_found, "no such user"));
  std::string name = dm_room_name(cmd.user, cmd.peer);
  if (s_.directory.exists(name)) return done(Reply{name});
  s_.users->find_user(cmd.peer, [this, cmd, name, done = std::move(done)](auto found) mutable {
    if (!found) return done(found.error());
    if (!found->has_value()) return done(make_error(Errc::not_found, "no such user: " + cmd.peer));
    Room room{name, RoomKind::direct, cmd.user, s_.clock->now_ms(), {cmd.user, cmd.peer}};
    s_.rooms->create_room(room, true, cmd.deadline,
                          [this, room, done = std::move(done)](Status st) mutable {
                            if (!st) return done(st.error());
                            // Already stored but not yet followed here (made elsewhere): adopt it
                            // now.
                            s_.directory.add_room(room);
                            done(Reply{room.name});
                          });
  });
}

}  // namespace parley
