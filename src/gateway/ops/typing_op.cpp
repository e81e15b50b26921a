#include "gateway/ops/ops.h"

namespace parley {

// Answered on the spot: the use case only reads the in-memory directory.
void typing_op(OpContext& ctx, const CommandPtr& cmd) {
  PARLEY_REQUIRE(room, codec::required_string(cmd->req.body, "room"));
  ctx.typing.handle({cmd->client->user, *room, cmd->client->id},
                    [&ctx, cmd, room = *room](Result<SendTyping::Reply> r) {
                      if (!r) return ctx.replies.error(cmd, r.error());
                      ctx.replies.ok(cmd, {{"room", room}});
                    });
}

}  // namespace parley
