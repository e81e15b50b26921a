#include "app/use_cases/invite_member.h"

#include "app/use_cases/room_access.h"
#include "domain/names.h"

namespace parley {

static_assert(UseCase<InviteMember>);

void InviteMember::handle(const Command& cmd, Done<Reply> done) {
  if (!valid_user_name(cmd.invitee)) return done(make_error(Errc::not_found, "no such user"));
  with_access(s_, cmd.room, cmd.user, std::move(done),
              [this, cmd](Done<Reply> done) { invite(cmd, std::move(done)); });
}

void InviteMember::invite(const Command& cmd, Done<Reply> done) {
  if (s_.directory.kind(cmd.room) == RoomKind::direct) {
    return done(make_error(Errc::forbidden, "direct message rooms take no invitations"));
  }
  s_.users->find_user(cmd.invitee, [this, cmd, done = std::move(done)](auto found) mutable {
    if (!found) return done(found.error());
    if (!found->has_value())
      return done(make_error(Errc::not_found, "no such user: " + cmd.invitee));
    // The directory learns the member through the store's change feed.
    s_.rooms->add_member(cmd.room, cmd.invitee, cmd.user, cmd.deadline,
                         [done = std::move(done)](Status st) {
                           if (!st) return done(st.error());
                           done(Reply{});
                         });
  });
}

}  // namespace parley
