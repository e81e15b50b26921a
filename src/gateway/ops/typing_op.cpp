#include "gateway/ops/ops.h"

namespace parley {

// The use case reads the in-memory directory, but a refusal first syncs the room (another
// thread).
void typing_op(OpContext& ctx, const CommandPtr& cmd) {
  PARLEY_REQUIRE(room, codec::required_string(cmd->req.body, "room"));
  ctx.typing.handle({cmd->client->user, *room, cmd->client->id, cmd->deadline},
                    [&ctx, cmd, room = *room](Result<SendTyping::Reply> r) {
                      ctx.on_worker(cmd, [&ctx, cmd, room, r = std::move(r)] {
                        if (!r) return ctx.replies.error(cmd, r.error());
                        ctx.replies.ok(cmd, {{"room", room}});
                      });
                    });
}

}  // namespace parley
