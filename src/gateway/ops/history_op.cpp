#include "gateway/ops/ops.h"

namespace parley {

void history_op(OpContext& ctx, const CommandPtr& cmd) {
  PARLEY_REQUIRE(room, codec::required_string(cmd->req.body, "room"));
  PARLEY_REQUIRE(before, codec::optional_int(cmd->req.body, "before"));
  PARLEY_REQUIRE(limit, codec::optional_int(cmd->req.body, "limit"));
  ctx.history.handle(
      {cmd->client->user, *room, *before, *limit}, [&ctx, cmd, room = *room](Result<Page> r) {
        ctx.on_worker(cmd, [&ctx, cmd, room, r = std::move(r)] {
          if (!r) return ctx.replies.error(cmd, r.error());
          if (!claim_deadline(cmd->deadline, ctx.s.clock->steady_ms())) {
            return ctx.replies.error(cmd, make_error(Errc::timeout, "history read too late"));
          }
          boost::json::array messages;
          for (const auto& m : r->messages) {
            messages.push_back(codec::message_object(m));
          }
          ctx.replies.ok(
              cmd, {{"room", room}, {"messages", std::move(messages)}, {"has_more", r->has_more}});
        });
      });
}

}  // namespace parley
