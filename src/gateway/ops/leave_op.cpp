#include "gateway/ops/ops.h"

namespace parley {

void leave_op(OpContext& ctx, const CommandPtr& cmd) {
  PARLEY_REQUIRE(room, codec::required_string(cmd->req.body, "room"));
  ctx.subscriptions.leave(*cmd->client, *room);
  ctx.replies.ok(cmd, {{"room", *room}});
}

}  // namespace parley
