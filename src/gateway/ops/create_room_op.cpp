#include "gateway/ops/ops.h"

namespace parley {

void create_room_op(OpContext& ctx, const CommandPtr& cmd) {
  PARLEY_REQUIRE(room, codec::required_string(cmd->req.body, "room"));
  PARLEY_REQUIRE(is_private, codec::optional_bool(cmd->req.body, "private", false));
  ctx.create_room.handle({cmd->client->user, *room, *is_private, cmd->deadline},
                         [&ctx, cmd](Result<Room> r) {
                           ctx.on_worker(cmd, [&ctx, cmd, r = std::move(r)] {
                             if (!r) return ctx.replies.error(cmd, r.error());
                             ctx.replies.ok(cmd, {{"room", r->name}});
                           });
                         });
}

}  // namespace parley
