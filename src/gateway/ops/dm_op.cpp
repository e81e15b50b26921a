#include "gateway/ops/ops.h"

namespace parley {

void dm_op(OpContext& ctx, const CommandPtr& cmd) {
  PARLEY_REQUIRE(user, codec::required_string(cmd->req.body, "user"));
  ctx.dm.handle({cmd->client->user, *user, cmd->deadline}, [&ctx, cmd](Result<OpenDm::Reply> r) {
    ctx.on_worker(cmd, [&ctx, cmd, r = std::move(r)] {
      if (!r) return ctx.replies.error(cmd, r.error());
      ctx.replies.ok(cmd, {{"room", r->room}});
    });
  });
}

}  // namespace parley
