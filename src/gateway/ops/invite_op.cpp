#include "gateway/ops/ops.h"

namespace parley {

void invite_op(OpContext& ctx, const CommandPtr& cmd) {
  PARLEY_REQUIRE(room, codec::required_string(cmd->req.body, "room"));
  PARLEY_REQUIRE(user, codec::required_string(cmd->req.body, "user"));
  ctx.invite.handle({cmd->client->user, *room, *user, cmd->deadline},
                    [&ctx, cmd, room = *room, user = *user](Result<InviteMember::Reply> r) {
                      ctx.on_worker(cmd, [&ctx, cmd, room, user, r = std::move(r)] {
                        if (!r) return ctx.replies.error(cmd, r.error());
                        ctx.replies.ok(cmd, {{"room", room}, {"user", user}});
                      });
                    });
}

}  // namespace parley
