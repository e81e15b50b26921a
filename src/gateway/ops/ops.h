#pragma once
// One handler per op: read the command's fields, call its use case, turn the answer into the
// result. Handlers run on the command's worker; use-case answers may come from storage
// threads, so handlers hop back to the worker (OpContext::on_worker) before replying.
#include <utility>

#include "app/services.h"
#include "app/use_cases/create_room.h"
#include "app/use_cases/invite_member.h"
#include "app/use_cases/open_dm.h"
#include "app/use_cases/read_history.h"
#include "app/use_cases/read_presence.h"
#include "app/use_cases/send_message.h"
#include "app/use_cases/send_typing.h"
#include "gateway/admission.h"
#include "gateway/command.h"
#include "gateway/replies.h"
#include "gateway/subscription.h"
#include "runtime/worker_pool.h"

namespace parley {

struct OpContext {
  Services& s;
  WorkerPool& pool;
  Replies& replies;
  Subscriptions& subscriptions;
  SendMessage send;
  ReadHistory history;
  CreateRoom create_room;
  InviteMember invite;
  OpenDm dm;
  SendTyping typing;
  ReadPresence presence;

  OpContext(Services& services, WorkerPool& p, Replies& r, Subscriptions& subs)
      : s(services),
        pool(p),
        replies(r),
        subscriptions(subs),
        send(services),
        history(services),
        create_room(services),
        invite(services),
        dm(services),
        typing(services),
        presence(services) {}

  /// Runs @p f on @p cmd's worker.
  template <typename F>
  void on_worker(const CommandPtr& cmd, F&& f) {
    pool.post(cmd->client->worker, std::forward<F>(f));
  }
};

void join_op(OpContext& ctx, const CommandPtr& cmd);
void leave_op(OpContext& ctx, const CommandPtr& cmd);
void send_op(OpContext& ctx, const CommandPtr& cmd);
void history_op(OpContext& ctx, const CommandPtr& cmd);
void create_room_op(OpContext& ctx, const CommandPtr& cmd);
void invite_op(OpContext& ctx, const CommandPtr& cmd);
void dm_op(OpContext& ctx, const CommandPtr& cmd);
void typing_op(OpContext& ctx, const CommandPtr& cmd);
void presence_op(OpContext& ctx, const CommandPtr& cmd);
void ping_op(OpContext& ctx, const CommandPtr& cmd);

/// Registers every op of the protocol with @p admission.
void register_ops(Admission& admission, OpContext& ctx);

}  // namespace parley

// Binds `var` to a decoded field (a Result); on error replies with it and ends the handler.
#define PARLEY_REQUIRE(var, expr) \
  auto var = (expr);              \
  if (!var) return ctx.replies.error(cmd, var.error());
