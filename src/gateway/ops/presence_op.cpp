#include "gateway/ops/ops.h"

namespace parley {

// The use case reads in-memory presence, but a refusal first syncs the room (another thread).
void presence_op(OpContext& ctx, const CommandPtr& cmd) {
  PARLEY_REQUIRE(room, codec::required_string(cmd->req.body, "room"));
  ctx.presence.handle({cmd->client->user, *room, cmd->deadline},
                      [&ctx, cmd, room = *room](Result<ReadPresence::Reply> r) {
                        ctx.on_worker(cmd, [&ctx, cmd, room, r = std::move(r)] {
                          if (!r) return ctx.replies.error(cmd, r.error());
                          boost::json::array online;
                          for (auto& user : r->online) online.push_back(boost::json::string(user));
                          ctx.replies.ok(cmd, {{"room", room}, {"online", std::move(online)}});
                        });
                      });
}

}  // namespace parley
