#include "gateway/ops/ops.h"

namespace parley {

void send_op(OpContext& ctx, const CommandPtr& cmd) {
  PARLEY_REQUIRE(room, codec::required_string(cmd->req.body, "room"));
  PARLEY_REQUIRE(text, codec::required_string(cmd->req.body, "text"));
  PARLEY_REQUIRE(client_msg_id, codec::optional_string(cmd->req.body, "client_msg_id"));
  SendMessage::Command c{cmd->client->user,           *room,         std::move(*text),
                         client_msg_id->value_or(""), cmd->deadline, cmd->trace};
  ctx.send.handle(c, [&ctx, cmd](Result<Appended> r) {
    ctx.on_worker(cmd, [&ctx, cmd, r = std::move(r)] {
      if (!r) return ctx.replies.error(cmd, r.error());
      const Message& m = r->message;
      ctx.replies.ok(cmd, {{"room", m.room}, {"seq", m.seq}, {"msg_id", m.msg_id}, {"ts", m.ts}});
    });
  });
}

}  // namespace parley
