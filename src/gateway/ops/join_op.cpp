#include "gateway/ops/ops.h"

namespace parley {

void join_op(OpContext& ctx, const CommandPtr& cmd) {
  PARLEY_REQUIRE(room, codec::required_string(cmd->req.body, "room"));
  PARLEY_REQUIRE(since, codec::optional_int(cmd->req.body, "since"));
  if (*since && **since < 0) {
    return ctx.replies.error(cmd, make_error(Errc::bad_request, "since must be a seq >= 0"));
  }
  ctx.subscriptions.join(cmd, *room, *since);
}

}  // namespace parley
